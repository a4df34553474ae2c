// Where tests find their data: the source tree's tests/data and the shared test images.
#pragma once

#include <filesystem>
#include <string>

namespace boomer::test {

// The project's source folder (BOOMER_SOURCE_DIR, else the one this build was made from).
std::filesystem::path source_dir();

// tests/data inside the source folder: files we may redistribute, with their provenance.
std::filesystem::path data_dir();

// ../shared/testdata/images; empty when that folder is missing (suites that need it say so
// with WARN and skip their checks).
std::filesystem::path shared_images_dir();

// read_file returns a file's bytes; throws std::runtime_error when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace boomer::test

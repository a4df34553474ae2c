// Test data locations, resolved from the environment ctest sets.
#include "tests/support/paths.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace boomer::test {

std::filesystem::path source_dir() {
    const char* dir = std::getenv("BOOMER_SOURCE_DIR");
    return dir != nullptr ? std::filesystem::path(dir)
                          : std::filesystem::path(BOOMER_DEFAULT_SOURCE_DIR);
}

std::filesystem::path data_dir() {
    return source_dir() / "tests" / "data";
}

std::filesystem::path shared_images_dir() {
    const char* shared = std::getenv("BOOMER_SHARED_DIR");
    std::filesystem::path dir =
        shared != nullptr ? std::filesystem::path(shared) : source_dir() / ".." / "shared";
    dir /= "testdata/images";
    std::error_code ec;
    return std::filesystem::is_directory(dir, ec) ? dir : std::filesystem::path{};
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace boomer::test

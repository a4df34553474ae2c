// The OpenAPI description (openapi.yaml at the top of the source tree), compiled into the
// binary so that GET /openapi.yaml always describes the routes this build serves.
#pragma once

#include <string_view>

namespace boomer::service {

std::string_view openapi_document();

}  // namespace boomer::service

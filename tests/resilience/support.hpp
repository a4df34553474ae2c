// Running coroutines to completion in resilience and cache tests.
#pragma once

#include "tests/clients/support.hpp"

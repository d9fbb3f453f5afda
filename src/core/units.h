// Formatting of quantities for people. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace retention {

// "512 bytes", "1.5 KiB", "3.2 MiB", ... (binary units, one decimal above bytes).
std::string HumanBytes(std::int64_t bytes);

}  // namespace retention

# Generates a header holding one file's bytes (run with cmake -P):
#   -DIN=<file> -DOUT=<header> -DNAME=<function name> -DSOURCE=<name shown in the header>
# The header defines `std::string_view NAME()` in yilian::http.
file(READ ${IN} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," content "${content}")
file(WRITE ${OUT}.tmp "// Generated from ${SOURCE} by embed_file.cmake; do not edit.
#pragma once

#include <string_view>

namespace yilian::http {

inline std::string_view ${NAME}() {
  static const unsigned char bytes[] = {${content}};
  return std::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes));
}

}  // namespace yilian::http
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})

# Parsing and cropping a 2.5 MB .hex, dfusctl against srec_cat:
# `cmake --build <dir> --target bench-parse` prints the table (bench/parse-vs-srec_cat).
if(NOT TARGET dfusctl)
  return()
endif()
add_custom_target(
  bench-parse
  COMMAND ${CMAKE_COMMAND} -E env DFUSCTL=$<TARGET_FILE:dfusctl> ${CMAKE_CURRENT_LIST_DIR}/parse-vs-srec_cat
  DEPENDS dfusctl
  USES_TERMINAL
  COMMENT "dfusctl inspect against srec_cat -crop")

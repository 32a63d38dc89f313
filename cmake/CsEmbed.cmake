# cs_embed_text(OUT <var> NAMESPACE <ns> FILES name=path ...)
# Generates a .cc at build time that defines `std::string_view <ns>::<name>` holding the bytes
# of each file, so runtime JS and JSON Schemas are compiled into the binaries (no files to
# ship). Edits to a file regenerate the .cc. The header declaring the names is hand-written.
function(cs_embed_text)
  cmake_parse_arguments(ARG "" "OUT;NAMESPACE" "FILES" ${ARGN})
  string(MAKE_C_IDENTIFIER "${ARG_NAMESPACE}" ns_id)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_${ns_id}.cc)
  set(pairs "")
  set(deps "")
  foreach(entry ${ARG_FILES})
    string(REPLACE "=" ";" kv ${entry})
    list(GET kv 0 name)
    list(GET kv 1 path)
    get_filename_component(abs ${path} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND pairs "${name}=${abs}")
    list(APPEND deps ${abs})
  endforeach()
  string(REPLACE ";" "|" pairs_arg "${pairs}")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNAMESPACE=${ARG_NAMESPACE} "-DPAIRS=${pairs_arg}"
            -P ${CMAKE_SOURCE_DIR}/cmake/CsEmbedGen.cmake
    DEPENDS ${deps} ${CMAKE_SOURCE_DIR}/cmake/CsEmbedGen.cmake
    COMMENT "Embedding ${ARG_NAMESPACE} text files"
    VERBATIM)
  set(${ARG_OUT} ${out} PARENT_SCOPE)
endfunction()

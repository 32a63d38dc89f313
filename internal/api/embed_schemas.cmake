# Build-time generator: embeds spec/<name>.schema.json files into a .cc as raw string literals,
# so the library never reads schemas from disk at run time.
# Usage: cmake -DOUT=<file.cc> -DTEMPLATE=<file.cc.in> -DSPEC_DIR=<dir> -DNAMES=a,b -P embed_schemas.cmake
string(REPLACE "," ";" names "${NAMES}")
set(CS_SCHEMA_ENTRIES "")
foreach(name IN LISTS names)
  set(path "${SPEC_DIR}/${name}.schema.json")
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "missing schema ${path}")
  endif()
  file(READ "${path}" text)
  string(FIND "${text}" ")cs_schema\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${path} contains the raw-string delimiter )cs_schema\"")
  endif()
  string(APPEND CS_SCHEMA_ENTRIES "    {\"${name}\", R\"cs_schema(${text})cs_schema\"},\n")
endforeach()
# configure_file rewrites OUT only when the content changed (no needless recompiles).
configure_file("${TEMPLATE}" "${OUT}" @ONLY)

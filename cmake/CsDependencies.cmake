# Every third-party dependency, found once (Debian 12 packages; see scripts/setup-deps.sh).
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(LibArchive REQUIRED)
find_package(CURL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(UUID REQUIRED IMPORTED_TARGET uuid)

# valijson is header-only.
find_path(VALIJSON_INCLUDE_DIR valijson/schema.hpp REQUIRED)
add_library(cs_valijson INTERFACE)
target_include_directories(cs_valijson SYSTEM INTERFACE ${VALIJSON_INCLUDE_DIR})
target_link_libraries(cs_valijson INTERFACE nlohmann_json::nlohmann_json)

# V8 from Debian's libnode: the system package, or the copy unpacked into .deps/libnode by
# scripts/setup-deps.sh when a foreign nodejs package blocks it.
set(CS_LIBNODE_PREFIX "${CMAKE_SOURCE_DIR}/.deps/libnode/usr" CACHE PATH "unpacked libnode prefix")
find_path(V8_INCLUDE_DIR v8.h
  PATHS ${CS_LIBNODE_PREFIX}/include/node /usr/include/node NO_DEFAULT_PATH REQUIRED)
find_library(V8_LIBRARY NAMES node libnode.so.108
  PATHS ${CS_LIBNODE_PREFIX}/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu NO_DEFAULT_PATH REQUIRED)
get_filename_component(V8_LIBRARY_DIR ${V8_LIBRARY} DIRECTORY)
add_library(cs_v8 INTERFACE)
target_include_directories(cs_v8 SYSTEM INTERFACE ${V8_INCLUDE_DIR})
target_link_libraries(cs_v8 INTERFACE ${V8_LIBRARY})
# Node 18's V8: no pointer compression, no sandbox.
target_compile_definitions(cs_v8 INTERFACE V8_DEPRECATION_WARNINGS=0)
# Binaries find the unpacked libnode at run time without LD_LIBRARY_PATH.
set(CMAKE_BUILD_RPATH ${V8_LIBRARY_DIR})
set(CMAKE_INSTALL_RPATH ${V8_LIBRARY_DIR})
message(STATUS "code-sous: V8 headers ${V8_INCLUDE_DIR}, library ${V8_LIBRARY}")

# jemalloc as the process allocator of the binaries that run activations (docs/performance.md:
# V8 and the request path allocate from many threads; +6–11 % cs dev throughput measured).
# Not with sanitizers, which bring their own allocator.
option(CS_USE_JEMALLOC "link the service binaries against jemalloc" ON)
if(CS_USE_JEMALLOC AND NOT CMAKE_CXX_FLAGS MATCHES "sanitize")
  find_library(CS_JEMALLOC_LIBRARY NAMES jemalloc REQUIRED)
  message(STATUS "code-sous: allocator ${CS_JEMALLOC_LIBRARY}")
endif()

# Links `target` against the process allocator chosen above (nothing when it is off).
function(cs_link_allocator target)
  if(CS_JEMALLOC_LIBRARY)
    target_link_libraries(${target} PRIVATE ${CS_JEMALLOC_LIBRARY})
  endif()
endfunction()

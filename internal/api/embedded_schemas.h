// The spec/*.schema.json texts, compiled into the library by a build-time generator
// (embed_schemas.cmake); nothing is read from disk at run time.
#pragma once

#include <string_view>
#include <vector>

namespace cs::api::detail {

struct EmbeddedSchema {
  std::string_view name;  // file stem, e.g. "manifest" for spec/manifest.schema.json
  std::string_view text;  // the JSON Schema document
};

const std::vector<EmbeddedSchema>& embeddedSchemas();

}  // namespace cs::api::detail

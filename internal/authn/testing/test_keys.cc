#include "internal/authn/testing/test_keys.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <stdlib.h>

namespace cs::authn::testing {

std::string makeTempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string readFileForTest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFileForTest(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string mergeJwks(const std::vector<std::string>& documents) {
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& d : documents) {
    const nlohmann::json doc = nlohmann::json::parse(d);
    for (const auto& k : doc.at("keys")) keys.push_back(k);
  }
  return nlohmann::json{{"keys", keys}}.dump();
}

TempKeyPair::TempKeyPair() : dir_(makeTempDir("cs-authn-keys-")) {
  auto info = generateKeyPair(dir_);
  if (!info) throw std::runtime_error("generateKeyPair: " + info.error().message);
  info_ = *info;
  privatePem_ = readFileForTest(info_.privateKeyPath);
  publicPem_ = readFileForTest(info_.publicKeyPath);
  jwks_ = readFileForTest(info_.jwksPath);
}

TempKeyPair::~TempKeyPair() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TempKeyPair::mint(const MintOptions& options) const {
  auto token = mintToken(privatePem_, options);
  EXPECT_TRUE(token.ok()) << (token.ok() ? "" : token.error().message);
  return token.ok() ? *token : std::string();
}

}  // namespace cs::authn::testing

// Test fixtures for modules that need real RS256 tokens (authn, gateway, control, e2e).
#pragma once

#include <string>
#include <vector>

#include "internal/authn/keys.h"

namespace cs::authn::testing {

// A fresh temporary directory holding a generated key pair; removed by the destructor.
// Generating a key costs tens of ms: share one per test suite.
class TempKeyPair {
 public:
  TempKeyPair();
  ~TempKeyPair();
  TempKeyPair(const TempKeyPair&) = delete;
  TempKeyPair& operator=(const TempKeyPair&) = delete;

  const std::string& dir() const { return dir_; }
  const KeyPairInfo& info() const { return info_; }
  const std::string& privatePem() const { return privatePem_; }
  const std::string& publicPem() const { return publicPem_; }
  const std::string& jwks() const { return jwks_; }

  // mintToken() with this key; aborts the test on failure.
  std::string mint(const MintOptions& options) const;

 private:
  std::string dir_;
  KeyPairInfo info_;
  std::string privatePem_, publicPem_, jwks_;
};

// A fresh empty temporary directory (caller removes it).
std::string makeTempDir(const std::string& prefix);
std::string readFileForTest(const std::string& path);
void writeFileForTest(const std::string& path, const std::string& data);
// {"keys":[…]} holding every key of the given JWKS documents.
std::string mergeJwks(const std::vector<std::string>& documents);

}  // namespace cs::authn::testing

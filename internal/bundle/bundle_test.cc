#include "internal/bundle/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "internal/crypto/crypto.h"

namespace cs::bundle {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMiB = 1024 * 1024;

// ---- helpers -------------------------------------------------------------------------------

Files sampleFiles() {
  return Files{{"function.js", "export default async (event) => ({statusCode: 200});\n"},
               {"manifest.json", R"({"schema":"cs.function.script.v1"})"},
               {"lib/util.js", std::string("bin\0ary\xff", 8)},
               {"empty.txt", ""}};
}

// One entry of a hand-crafted (possibly hostile) tar written with libarchive.
struct RawEntry {
  std::string path = {};
  mode_t type = AE_IFREG;
  std::string data = {};
  std::string symlink = {};   // for AE_IFLNK
  std::string hardlink = {};  // non-empty: hard link to this path
  bool sparse = false;        // declare a sparse map (pax GNU.sparse)
};

la_ssize_t appendCb(archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

std::string writeTar(const std::vector<RawEntry>& entries, int format = ARCHIVE_FORMAT_TAR_USTAR,
                     bool gzip = false) {
  std::string out;
  archive* a = archive_write_new();
  EXPECT_EQ(archive_write_set_format(a, format), ARCHIVE_OK) << archive_error_string(a);
  if (gzip) {
    EXPECT_EQ(archive_write_add_filter_gzip(a), ARCHIVE_OK);
  }
  EXPECT_EQ(archive_write_open(a, &out, nullptr, appendCb, nullptr), ARCHIVE_OK);
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_copy_pathname(entry, e.path.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, 0644);
    if (e.type == AE_IFLNK) archive_entry_copy_symlink(entry, e.symlink.c_str());
    if (!e.hardlink.empty()) archive_entry_copy_hardlink(entry, e.hardlink.c_str());
    if (e.sparse) {
      archive_entry_set_size(entry, 64 * kMiB);
      archive_entry_sparse_add_entry(entry, 0, static_cast<la_int64_t>(e.data.size()));
    } else {
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    }
    EXPECT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    if (!e.data.empty()) {
      EXPECT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
                static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(entry);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK) << archive_error_string(a);
  archive_write_free(a);
  return out;
}

// Rewrites the ustar size field of the header at `offset` and fixes its checksum, producing a
// header that lies about the data that follows.
void setHeaderSize(std::string& tar, size_t offset, const std::string& octal11) {
  ASSERT_EQ(octal11.size(), 11u);
  tar.replace(offset + 124, 11, octal11);
  tar[offset + 124 + 11] = '\0';
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(tar[offset + i]);
  }
  char buf[8];
  std::snprintf(buf, sizeof buf, "%06o", sum);
  tar.replace(offset + 148, 6, buf, 6);
  tar[offset + 154] = '\0';
  tar[offset + 155] = ' ';
}

std::string field(const std::string& tar, size_t offset, size_t len) {
  std::string f = tar.substr(offset, len);
  return f.substr(0, f.find('\0'));
}

void expectRejected(const std::string& tar, cs::ErrorCode code, const std::string& needle,
                    const Limits& limits = {}) {
  auto r = unpack(tar, limits);
  ASSERT_FALSE(r.ok()) << "expected rejection containing '" << needle << "'";
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

// ---- canonical packing ---------------------------------------------------------------------

TEST(BundlePack, SameFilesInDifferentInsertionOrderGiveIdenticalBytes) {
  Files forward;
  Files backward;
  const Files sample = sampleFiles();
  for (auto it = sample.begin(); it != sample.end(); ++it) forward.emplace(it->first, it->second);
  for (auto it = sample.rbegin(); it != sample.rend(); ++it) {
    backward.emplace(it->first, it->second);
  }
  auto a = pack(forward);
  auto b = pack(backward);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(sha256(*a), sha256(*b));
  // Different content must not collide.
  Files changed = sample;
  changed["function.js"] += " ";
  auto c = pack(changed);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(sha256(*a), sha256(*c));
}

TEST(BundlePack, DeterministicAcrossCalls) {
  auto first = pack(sampleFiles());
  ASSERT_TRUE(first.ok()) << first.error().message;
  for (int i = 0; i < 5; ++i) {
    auto again = pack(sampleFiles());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *first);
  }
  EXPECT_EQ(sha256(*first), cs::crypto::sha256Hex(*first));
}

// Pins the canonical format: stored versions are addressed by this digest, so any drift (a
// libarchive upgrade, a changed header field) must be a deliberate decision.
TEST(BundlePack, GoldenDigestIsStable) {
  auto tar = pack(
      Files{{"function.js", "export default 1;\n"}, {"manifest.json", "{}"}, {"lib/a.js", "a"}});
  ASSERT_TRUE(tar.ok()) << tar.error().message;
  EXPECT_EQ(tar->size(), 4096u);
  EXPECT_EQ(sha256(*tar), "d2d2d04dd9b4683eb5ee2e7eaa165e7d44419750393b694046438e55bab18339");
}

TEST(BundlePack, CanonicalHeaderFields) {
  const Files files{{"z.js", "zz"}, {"a/b.js", std::string(600, 'x')}, {"m.json", "{}"}};
  auto tar = pack(files);
  ASSERT_TRUE(tar.ok()) << tar.error().message;
  // Layout: header + data padded to 512 per entry, then two zero blocks, nothing else.
  const size_t expectedSize = (512 + 1024) + (512 + 512) + (512 + 512) + 1024;
  ASSERT_EQ(tar->size(), expectedSize);
  const std::vector<std::pair<size_t, std::string>> headers{
      {0, "a/b.js"}, {1536, "m.json"}, {2560, "z.js"}};  // byte-sorted path order
  for (const auto& [off, name] : headers) {
    SCOPED_TRACE(name);
    EXPECT_EQ(field(*tar, off + 0, 100), name);
    EXPECT_EQ(field(*tar, off + 100, 8), "000644 ");
    EXPECT_EQ(field(*tar, off + 108, 8), "000000 ");
    EXPECT_EQ(field(*tar, off + 116, 8), "000000 ");
    EXPECT_EQ(field(*tar, off + 136, 12), "00000000000 ");
    EXPECT_EQ((*tar)[off + 156], '0');  // regular file
    EXPECT_EQ(field(*tar, off + 257, 6), "ustar");
    EXPECT_EQ(tar->substr(off + 263, 2), "00");
    EXPECT_EQ(field(*tar, off + 265, 32), "");  // uname
    EXPECT_EQ(field(*tar, off + 297, 32), "");  // gname
  }
  EXPECT_EQ(tar->substr(expectedSize - 1024), std::string(1024, '\0'));
}

TEST(BundlePack, RoundTrip) {
  const Files files = sampleFiles();
  auto tar = pack(files);
  ASSERT_TRUE(tar.ok()) << tar.error().message;
  auto back = unpack(*tar);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, files);
  // Packing the unpacked files reproduces the same bytes.
  auto again = pack(*back);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *tar);
}

TEST(BundlePack, LongPathsUseTheUstarPrefixAndRoundTrip) {
  const std::string name100(100, 'n');
  const std::string split = std::string(150, 'p') + "/" + std::string(100, 'n');  // 251 bytes
  auto tar = pack(Files{{name100, "1"}, {split, "2"}});
  ASSERT_TRUE(tar.ok()) << tar.error().message;
  auto back = unpack(*tar);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->at(name100), "1");
  EXPECT_EQ(back->at(split), "2");
}

TEST(BundlePack, RejectsInvalidPathsNamingThem) {
  const std::vector<std::string> bad{
      "",
      "/etc/passwd",
      "../evil",
      "a/../../evil",
      "a/..",
      "./function.js",
      "a/./b",
      ".",
      "lib\\util.js",
      std::string("a\0b", 3),
      "a\nb",
      "dir/",
      std::string(101, 'x'),                               // no '/' to split at
      std::string(156, 'p') + "/" + std::string(10, 'n'),  // prefix 156 > 155
      std::string(10, 'p') + "/" + std::string(101, 'n'),  // name part 101 > 100
  };
  for (const auto& path : bad) {
    SCOPED_TRACE(path);
    auto r = pack(Files{{path, "x"}, {"function.js", "y"}});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, cs::ErrorCode::ValidationFailed);
    EXPECT_NE(r.error().message.find("invalid bundle path"), std::string::npos)
        << r.error().message;
    if (!path.empty() && path.find_first_of(std::string("\0\n\\", 3)) == std::string::npos &&
        path.size() < 100) {
      EXPECT_NE(r.error().message.find("\"" + path + "\""), std::string::npos) << r.error().message;
    }
  }
}

TEST(BundlePack, NormalisesRepeatedSlashesAndRejectsResultingDuplicates) {
  auto n = normalizePath("lib//util.js");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, "lib/util.js");

  auto dup = pack(Files{{"lib//util.js", "a"}, {"lib/util.js", "b"}});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, cs::ErrorCode::ValidationFailed);
  EXPECT_NE(dup.error().message.find("duplicate"), std::string::npos) << dup.error().message;
  EXPECT_NE(dup.error().message.find("lib/util.js"), std::string::npos);
}

TEST(BundlePack, FileCountLimits) {
  EXPECT_EQ(pack(Files{}).error().code, cs::ErrorCode::ValidationFailed);

  Files many;
  for (size_t i = 0; i < kDefaultMaxFiles; ++i) many.emplace("f" + std::to_string(i), "x");
  EXPECT_TRUE(pack(many).ok());
  many.emplace("one-too-many", "x");
  auto r = pack(many);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, cs::ErrorCode::ValidationFailed);
  EXPECT_NE(r.error().message.find("257"), std::string::npos) << r.error().message;
}

// The limit measures summed file content bytes (see Limits in bundle.h).
TEST(BundlePack, SixteenMiBGate) {
  ASSERT_EQ(Limits{}.maxBundleBytes, 16u * kMiB);

  const Files atLimit{{"function.js", std::string(16 * kMiB - 10, 'a')},
                      {"manifest.json", std::string(10, 'b')}};
  auto ok = pack(atLimit);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_GT(ok->size(), 16 * kMiB);  // the tar framing is on top of the content limit
  auto back = unpack(*ok);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, atLimit);

  Files overByOne = atLimit;
  overByOne["manifest.json"] += "c";
  auto r = pack(overByOne);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, cs::ErrorCode::ValidationBundleTooLarge);
  EXPECT_EQ(cs::errorCodeName(r.error().code), "CS_VALIDATION_BUNDLE_TOO_LARGE");

  auto single = pack(Files{{"function.js", std::string(16 * kMiB + 1, 'a')}});
  ASSERT_FALSE(single.ok());
  EXPECT_EQ(single.error().code, cs::ErrorCode::ValidationBundleTooLarge);
}

TEST(BundlePack, PerFileLimit) {
  Limits limits;
  limits.maxFileBytes = 100;
  EXPECT_TRUE(pack(Files{{"a", std::string(100, 'a')}, {"b", std::string(100, 'b')}}, limits).ok());
  auto r = pack(Files{{"a", std::string(101, 'a')}}, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, cs::ErrorCode::ValidationBundleTooLarge);
}

// ---- sha256 / verify -----------------------------------------------------------------------

TEST(BundleVerify, AcceptsIntactAndRejectsTamperedBundles) {
  auto tar = pack(sampleFiles());
  ASSERT_TRUE(tar.ok());
  const std::string digest = sha256(*tar);
  EXPECT_EQ(digest.size(), 64u);
  EXPECT_TRUE(verify(*tar, digest).ok());

  std::string upper = digest;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(verify(*tar, upper).ok());

  // Flip one byte of content, of a header, and of the trailing zero blocks.
  for (size_t pos : {size_t{520}, size_t{5}, tar->size() - 1}) {
    std::string tampered = *tar;
    tampered[pos] = static_cast<char>(tampered[pos] ^ 0x01);
    auto s = verify(tampered, digest);
    ASSERT_FALSE(s.ok()) << pos;
    EXPECT_EQ(s.error().code, cs::ErrorCode::ValidationFailed);
    EXPECT_EQ(s.error().message, "bundle sha256 mismatch");
  }

  EXPECT_FALSE(verify(*tar, "").ok());
  EXPECT_FALSE(verify(*tar, digest.substr(1)).ok());
  EXPECT_FALSE(verify(*tar, std::string(63, '0') + "g").ok());
}

// ---- unpack of hostile input ---------------------------------------------------------------

TEST(BundleUnpack, RejectsPathTraversal) {
  expectRejected(
      writeTar({{.path = "function.js", .data = "ok"}, {.path = "../evil", .data = "x"}}),
      cs::ErrorCode::ValidationFailed, "'..'");
  expectRejected(writeTar({{.path = "a/../../evil", .data = "x"}}), cs::ErrorCode::ValidationFailed,
                 "'..'");
  // A GNU long-name header hides the traversal beyond the 100-byte ustar name field.
  std::string deep;
  for (int i = 0; i < 60; ++i) deep += "d/";
  expectRejected(writeTar({{.path = deep + "../../evil", .data = "x"}}, ARCHIVE_FORMAT_TAR_GNUTAR),
                 cs::ErrorCode::ValidationFailed, "'..'");
  // Same through a pax extended header.
  expectRejected(
      writeTar({{.path = deep + "../../evil", .data = "x"}}, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED),
      cs::ErrorCode::ValidationFailed, "'..'");
}

TEST(BundleUnpack, RejectsAbsolutePaths) {
  expectRejected(writeTar({{.path = "/etc/passwd", .data = "root"}}),
                 cs::ErrorCode::ValidationFailed, "absolute");
}

TEST(BundleUnpack, RejectsLinksAndSpecialFiles) {
  expectRejected(writeTar({{.path = "function.js", .type = AE_IFLNK, .symlink = "/etc/passwd"}}),
                 cs::ErrorCode::ValidationFailed, "symbolic link");
  expectRejected(
      writeTar({{.path = "a.js", .data = "x"}, {.path = "function.js", .hardlink = "a.js"}}),
      cs::ErrorCode::ValidationFailed, "hard link");
  expectRejected(writeTar({{.path = "dev", .type = AE_IFCHR}}), cs::ErrorCode::ValidationFailed,
                 "character device");
  expectRejected(writeTar({{.path = "pipe", .type = AE_IFIFO}}), cs::ErrorCode::ValidationFailed,
                 "FIFO");
}

TEST(BundleUnpack, IgnoresSafeDirectoryEntriesButRejectsUnsafeOnes) {
  auto withDirs = unpack(writeTar({{.path = "./", .type = AE_IFDIR},
                                   {.path = "lib/", .type = AE_IFDIR},
                                   {.path = "lib/util.js", .data = "u"}}));
  ASSERT_TRUE(withDirs.ok()) << withDirs.error().message;
  EXPECT_EQ(*withDirs, (Files{{"lib/util.js", "u"}}));

  expectRejected(writeTar({{.path = "../up/", .type = AE_IFDIR}, {.path = "a", .data = "x"}}),
                 cs::ErrorCode::ValidationFailed, "'..'");
  // Only directories: nothing to run.
  expectRejected(writeTar({{.path = "lib/", .type = AE_IFDIR}}), cs::ErrorCode::ValidationFailed,
                 "no files");
}

TEST(BundleUnpack, RejectsDuplicateEntries) {
  expectRejected(
      writeTar({{.path = "function.js", .data = "good"}, {.path = "function.js", .data = "evil"}}),
      cs::ErrorCode::ValidationFailed, "duplicate");
  // Duplicate only after normalisation.
  expectRejected(writeTar({{.path = "lib/a.js", .data = "1"}, {.path = "lib//a.js", .data = "2"}}),
                 cs::ErrorCode::ValidationFailed, "duplicate");
}

TEST(BundleUnpack, RejectsSparseEntries) {
  expectRejected(writeTar({{.path = "big.bin", .data = "x", .sparse = true}},
                          ARCHIVE_FORMAT_TAR_PAX_RESTRICTED),
                 cs::ErrorCode::ValidationFailed, "sparse");
}

TEST(BundleUnpack, EnforcesSizeLimitsOnBytesRead) {
  Limits limits;
  limits.maxBundleBytes = 1000;
  limits.maxFileBytes = 600;
  limits.maxFiles = 4;
  // Honest header, file over the per-file cap; the tar itself is within maxTarBytes.
  const std::string bigFile = writeTar({{.path = "a", .data = std::string(601, 'a')}});
  ASSERT_LE(bigFile.size(), maxTarBytes(limits));
  expectRejected(bigFile, cs::ErrorCode::ValidationBundleTooLarge, "per-file", limits);
  // Every file under the per-file cap, the total over the bundle cap.
  expectRejected(writeTar({{.path = "a", .data = std::string(500, 'a')},
                           {.path = "b", .data = std::string(501, 'b')}}),
                 cs::ErrorCode::ValidationBundleTooLarge, "limit of 1000", limits);
  // Exactly at both caps is fine.
  auto ok = unpack(writeTar({{.path = "a", .data = std::string(600, 'a')},
                             {.path = "b", .data = std::string(400, 'b')}}),
                   limits);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  // Too many files.
  std::vector<RawEntry> five;
  for (int i = 0; i < 5; ++i) five.push_back({.path = "f" + std::to_string(i), .data = "x"});
  expectRejected(writeTar(five), cs::ErrorCode::ValidationFailed, "more than 4 files", limits);
}

TEST(BundleUnpack, RejectsInputOverTheTarGateBeforeParsing) {
  Limits limits;
  limits.maxBundleBytes = 10;
  limits.maxFiles = 1;
  const std::string huge(maxTarBytes(limits) + 1, '\0');
  expectRejected(huge, cs::ErrorCode::ValidationBundleTooLarge, "tar data", limits);
}

TEST(BundleUnpack, HeaderClaimingMoreThanTheDataIsRejected) {
  auto tar = pack(Files{{"function.js", std::string(10, 'f')}});
  ASSERT_TRUE(tar.ok());
  std::string lying = *tar;
  setHeaderSize(lying, 0, "77777777777");  // claims 8 GiB, far over every cap
  auto r = unpack(lying);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().code == cs::ErrorCode::ValidationFailed ||
              r.error().code == cs::ErrorCode::ValidationBundleTooLarge)
      << r.error().message;

  // Claims 1 MiB (under the cap) while only a few blocks follow: truncated, not accepted.
  lying = *tar;
  setHeaderSize(lying, 0, "00004000000");
  expectRejected(lying, cs::ErrorCode::ValidationFailed, "function.js");
}

TEST(BundleUnpack, HeaderClaimingLessThanTheDataIsRejected) {
  // 2000 bytes of data but the header says 10: the rest is parsed as a (damaged) header.
  Limits limits;
  limits.maxFileBytes = 1000;
  auto tar = pack(Files{{"function.js", std::string(2000, 'A')}});
  ASSERT_TRUE(tar.ok());
  std::string lying = *tar;
  setHeaderSize(lying, 0, "00000000012");
  expectRejected(lying, cs::ErrorCode::ValidationFailed, "not a valid tar", limits);
}

TEST(BundleUnpack, RejectsGarbageWithoutCrashing) {
  std::mt19937 rng(42);
  std::string random(4096, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  expectRejected(random, cs::ErrorCode::ValidationFailed, "not a valid tar");
  expectRejected("hello, world", cs::ErrorCode::ValidationFailed, "not a valid tar");
  expectRejected("", cs::ErrorCode::ValidationFailed, "empty");
  expectRejected(std::string(1024, '\0'), cs::ErrorCode::ValidationFailed, "no files");
  // Compressed tars are not accepted (no decompression filters).
  expectRejected(writeTar({{.path = "function.js", .data = "x"}}, ARCHIVE_FORMAT_TAR_USTAR, true),
                 cs::ErrorCode::ValidationFailed, "not a valid tar");
  // Truncated canonical bundle.
  auto tar = pack(Files{{"function.js", std::string(3000, 'x')}});
  ASSERT_TRUE(tar.ok());
  auto cut = unpack(std::string_view(*tar).substr(0, 1500));
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, cs::ErrorCode::ValidationFailed);
}

TEST(BundleUnpack, SingleByteCorruptionsNeverYieldUnsafePaths) {
  auto tar = pack(Files{{"function.js", "f"}, {"lib/m.json", "{}"}});
  ASSERT_TRUE(tar.ok());
  size_t rejected = 0;
  for (size_t pos = 0; pos < 1024 + 512; ++pos) {
    for (unsigned char value : {0x00, 0x2e, 0x2f, 0xff}) {
      std::string mutated = *tar;
      mutated[pos] = static_cast<char>(value);
      auto r = unpack(mutated);
      if (!r.ok()) {
        ++rejected;
        continue;
      }
      for (const auto& [path, content] : *r) {
        auto n = normalizePath(path);
        ASSERT_TRUE(n.ok()) << "unsafe path accepted at pos " << pos;
        EXPECT_EQ(*n, path);
      }
    }
  }
  EXPECT_GT(rejected, 0u);  // checksum damage must be noticed
}

// ---- readDirectory -------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("cs_bundle_test_" + cs::crypto::randomHex(8))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void write(const std::string& rel, const std::string& content) const {
    fs::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel, std::ios::binary) << content;
  }

 private:
  fs::path path_;
};

TEST(BundleReadDirectory, ReadsRegularFilesSkippingDotfilesAndNodeModules) {
  TempDir dir;
  dir.write("function.js", "fn");
  dir.write("manifest.json", "{}");
  dir.write("lib/util.js", "util");
  dir.write(".env", "SECRET=1");
  dir.write(".git/config", "x");
  dir.write("lib/.hidden", "x");
  dir.write("node_modules/pkg/index.js", "x");
  dir.write("lib/node_modules/pkg/index.js", "x");
  fs::create_directory_symlink("lib", dir.path() / ".lib-link");  // dot-entry: skipped
  fs::create_symlink("lib/util.js", dir.path() / "alias.js");     // stays inside: followed

  auto files = readDirectory(dir.path());
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ(*files, (Files{{"function.js", "fn"},
                           {"manifest.json", "{}"},
                           {"lib/util.js", "util"},
                           {"alias.js", "util"}}));
  EXPECT_TRUE(pack(*files).ok());
}

TEST(BundleReadDirectory, RefusesEscapingAndSpecialEntries) {
  TempDir outside;
  outside.write("secret.txt", "s");
  {
    TempDir dir;
    dir.write("function.js", "fn");
    fs::create_symlink(outside.path() / "secret.txt", dir.path() / "leak.js");
    auto r = readDirectory(dir.path());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, cs::ErrorCode::ValidationFailed);
    EXPECT_NE(r.error().message.find("outside"), std::string::npos) << r.error().message;
  }
  {
    TempDir dir;
    dir.write("function.js", "fn");
    fs::create_symlink("../" + outside.path().filename().string() + "/secret.txt",
                       dir.path() / "rel.js");
    EXPECT_FALSE(readDirectory(dir.path()).ok());
  }
  {
    TempDir dir;
    dir.write("function.js", "fn");
    fs::create_symlink("missing.js", dir.path() / "dangling.js");
    auto r = readDirectory(dir.path());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("dangling"), std::string::npos) << r.error().message;
  }
  {
    TempDir dir;
    dir.write("lib/a.js", "a");
    fs::create_directory_symlink("lib", dir.path() / "lib2");
    auto r = readDirectory(dir.path());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("regular file"), std::string::npos) << r.error().message;
  }
  {
    TempDir dir;
    dir.write("function.js", "fn");
    ASSERT_EQ(::mkfifo((dir.path() / "pipe").c_str(), 0600), 0);
    auto r = readDirectory(dir.path());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("not a regular file"), std::string::npos);
  }
}

TEST(BundleReadDirectory, AppliesLimitsAndRejectsNonDirectories) {
  TempDir dir;
  dir.write("function.js", std::string(6, 'f'));
  dir.write("manifest.json", std::string(5, 'm'));
  Limits limits;
  limits.maxBundleBytes = 11;
  EXPECT_TRUE(readDirectory(dir.path(), limits).ok());
  limits.maxBundleBytes = 10;
  auto r = readDirectory(dir.path(), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, cs::ErrorCode::ValidationBundleTooLarge);

  Limits oneFile;
  oneFile.maxFiles = 1;
  EXPECT_EQ(readDirectory(dir.path(), oneFile).error().code, cs::ErrorCode::ValidationFailed);

  EXPECT_EQ(readDirectory(dir.path() / "function.js").error().code,
            cs::ErrorCode::ValidationFailed);
  EXPECT_EQ(readDirectory(dir.path() / "nope").error().code, cs::ErrorCode::ValidationFailed);
}

}  // namespace
}  // namespace cs::bundle

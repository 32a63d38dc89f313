#include "internal/bundle/bundle.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <system_error>
#include <utility>

#include "internal/crypto/crypto.h"

namespace cs::bundle {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBlock = 512;
constexpr size_t kUstarNameMax = 100;
constexpr size_t kUstarPrefixMax = 155;
constexpr size_t kReadChunk = 64 * 1024;
// Tar framing allowance per file in maxTarBytes(): header, extension header, its data, padding.
constexpr uint64_t kFramingPerFile = 4 * kBlock;
constexpr uint64_t kFramingFixed = 2 * 10240;
constexpr size_t kMaxShownPath = 160;

uint64_t saturatingAdd(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

uint64_t saturatingMul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) {
    return std::numeric_limits<uint64_t>::max();
  }
  return a * b;
}

// A path made safe to print in an error message: quoted, control bytes escaped, long ones cut.
std::string quote(std::string_view path) {
  std::string out = "\"";
  size_t shown = 0;
  for (unsigned char c : path) {
    if (shown++ == kMaxShownPath) {
      out += "...";
      break;
    }
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      std::array<char, 5> buf{};
      std::snprintf(buf.data(), buf.size(), "\\x%02x", c);
      out += buf.data();
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

cs::Error invalidPath(std::string_view path, std::string_view why) {
  return cs::Error{cs::ErrorCode::ValidationFailed,
                   "invalid bundle path " + quote(path) + ": " + std::string(why)};
}

// Mirrors libarchive's ustar writer: split at the first '/' that leaves a name of <= 100 bytes;
// the prefix before it must be non-empty and <= 155 bytes.
bool fitsUstar(std::string_view path) {
  const size_t n = path.size();
  if (n <= kUstarNameMax) return true;
  size_t pos = path.find('/', n - kUstarNameMax - 1);
  if (pos == 0) pos = path.find('/', 1);
  if (pos == std::string_view::npos || pos + 1 >= n) return false;
  return pos <= kUstarPrefixMax;
}

uint64_t roundUpBlock(uint64_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

cs::Error tooLarge(std::string message) {
  return cs::Error{cs::ErrorCode::ValidationBundleTooLarge, std::move(message)};
}

cs::Error invalid(std::string message) {
  return cs::Error{cs::ErrorCode::ValidationFailed, std::move(message)};
}

std::string archiveMessage(archive* a) {
  const char* msg = archive_error_string(a);
  return msg != nullptr ? msg : "unknown libarchive error";
}

struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// libarchive write callback: appends to the std::string given as client data. No exception may
// cross into C code, so allocation failure is reported as a write error.
la_ssize_t appendToString(archive* /*a*/, void* client, const void* buf, size_t n) {
  try {
    static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  } catch (...) {
    return -1;
  }
}

const char* describeType(mode_t type) {
  switch (type) {
    case AE_IFLNK:
      return "a symbolic link";
    case AE_IFCHR:
      return "a character device";
    case AE_IFBLK:
      return "a block device";
    case AE_IFIFO:
      return "a FIFO";
    case AE_IFSOCK:
      return "a socket";
    case AE_IFDIR:
      return "a directory";
    default:
      return "not a regular file";
  }
}

}  // namespace

uint64_t maxTarBytes(const Limits& limits) {
  return saturatingAdd(
      saturatingAdd(limits.maxBundleBytes, saturatingMul(limits.maxFiles, kFramingPerFile)),
      kFramingFixed);
}

cs::Result<std::string> normalizePath(std::string_view path) {
  if (path.empty()) return invalidPath(path, "path is empty");
  for (unsigned char c : path) {
    if (c == '\0') return invalidPath(path, "contains a NUL byte");
    if (c < 0x20 || c == 0x7f) return invalidPath(path, "contains a control character");
    if (c == '\\') return invalidPath(path, "contains a backslash");
  }
  if (path.front() == '/') return invalidPath(path, "absolute paths are not allowed");
  if (path.back() == '/') return invalidPath(path, "names a directory (trailing '/')");

  std::string canonical;
  canonical.reserve(path.size());
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view component = path.substr(start, end - start);
    if (component == "..") return invalidPath(path, "'..' components are not allowed");
    if (component == ".") return invalidPath(path, "'.' components are not allowed");
    if (!component.empty()) {
      if (!canonical.empty()) canonical += '/';
      canonical += component;
    }
    start = end + 1;
  }
  if (!fitsUstar(canonical)) {
    return invalidPath(path, "too long for a ustar header (name 100 / prefix 155 bytes)");
  }
  return canonical;
}

cs::Result<std::string> pack(const Files& files, const Limits& limits) {
  if (files.empty()) return invalid("bundle has no files");
  if (files.size() > limits.maxFiles) {
    return invalid("bundle has " + std::to_string(files.size()) + " files, over the limit of " +
                   std::to_string(limits.maxFiles));
  }

  // Canonical path -> (original path, content); the map order is the entry order.
  std::map<std::string, std::pair<const std::string*, const std::string*>> entries;
  uint64_t total = 0;
  uint64_t tarSize = 2 * kBlock;
  for (const auto& [path, content] : files) {
    auto canonical = normalizePath(path);
    if (!canonical) return canonical.error();
    auto [it, inserted] = entries.emplace(*canonical, std::make_pair(&path, &content));
    if (!inserted) {
      return invalid("duplicate bundle path " + quote(path) + ": same as " +
                     quote(*it->second.first) + " after normalisation");
    }
    if (content.size() > limits.maxFileBytes) {
      return tooLarge("file " + quote(path) + " is " + std::to_string(content.size()) +
                      " bytes, over the per-file limit of " + std::to_string(limits.maxFileBytes) +
                      " bytes");
    }
    total += content.size();
    tarSize += kBlock + roundUpBlock(content.size());
  }
  if (total > limits.maxBundleBytes) {
    return tooLarge("bundle content is " + std::to_string(total) + " bytes, over the limit of " +
                    std::to_string(limits.maxBundleBytes) + " bytes");
  }

  std::string out;
  out.reserve(tarSize);
  std::unique_ptr<archive, WriteFree> a(archive_write_new());
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  if (!a || !entry) return cs::Error{cs::ErrorCode::Internal, "libarchive: out of memory"};
  auto fail = [&](std::string_view what) {
    return cs::Error{cs::ErrorCode::Internal,
                     "pack: " + std::string(what) + ": " + archiveMessage(a.get())};
  };
  if (archive_write_set_format_ustar(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_none(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(a.get(), kBlock) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), kBlock) != ARCHIVE_OK) {
    return fail("configure writer");
  }
  if (archive_write_open(a.get(), &out, nullptr, appendToString, nullptr) != ARCHIVE_OK) {
    return fail("open writer");
  }
  for (const auto& [path, source] : entries) {
    const std::string& content = *source.second;
    archive_entry_clear(entry.get());
    archive_entry_copy_pathname(entry.get(), path.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(content.size()));
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    archive_entry_set_mtime(entry.get(), 0, 0);
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) {
      return fail("write header for " + quote(path));
    }
    size_t written = 0;
    while (written < content.size()) {
      la_ssize_t n =
          archive_write_data(a.get(), content.data() + written, content.size() - written);
      if (n <= 0) return fail("write data for " + quote(path));
      written += static_cast<size_t>(n);
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return fail("close writer");
  // Self-check of the canonical layout; a mismatch is our bug (or a libarchive change).
  if (out.size() != tarSize) {
    return cs::Error{cs::ErrorCode::Internal, "pack: tar is " + std::to_string(out.size()) +
                                                  " bytes, expected " + std::to_string(tarSize)};
  }
  return out;
}

cs::Result<Files> unpack(std::string_view tarBytes, const Limits& limits) {
  if (tarBytes.empty()) return invalid("bundle is empty");
  const uint64_t maxTar = maxTarBytes(limits);
  if (tarBytes.size() > maxTar) {
    return tooLarge("bundle is " + std::to_string(tarBytes.size()) +
                    " bytes of tar data, over the limit of " + std::to_string(maxTar) + " bytes");
  }

  std::unique_ptr<archive, ReadFree> a(archive_read_new());
  if (!a) return cs::Error{cs::ErrorCode::Internal, "libarchive: out of memory"};
  // Tar only and no filters: no compression means no decompression bombs.
  if (archive_read_support_format_tar(a.get()) != ARCHIVE_OK) {
    return cs::Error{cs::ErrorCode::Internal, "unpack: " + archiveMessage(a.get())};
  }
  if (archive_read_open_memory(a.get(), tarBytes.data(), tarBytes.size()) != ARCHIVE_OK) {
    return invalid("bundle is not a valid tar archive: " + archiveMessage(a.get()));
  }

  Files files;
  uint64_t total = 0;
  std::string buffer(kReadChunk, '\0');
  while (true) {
    archive_entry* entry = nullptr;
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) {
      return invalid("bundle is not a valid tar archive: " + archiveMessage(a.get()));
    }
    const char* rawName = archive_entry_pathname(entry);
    if (rawName == nullptr) return invalid("bundle entry has no readable path");
    const std::string_view name(rawName);
    auto entryError = [&](std::string_view why) {
      return invalid("bundle entry " + quote(name) + " " + std::string(why));
    };

    if (archive_entry_hardlink(entry) != nullptr) return entryError("is a hard link");
    const mode_t type = archive_entry_filetype(entry);
    if (type == AE_IFDIR) {
      // Directory entries carry nothing; accept them only when their path is itself safe.
      std::string_view dir = name;
      while (!dir.empty() && dir.back() == '/') dir.remove_suffix(1);
      if (dir.empty()) return entryError("is the root directory (absolute path)");
      if (dir == ".") continue;
      auto checked = normalizePath(dir);
      if (!checked) return checked.error();
      continue;
    }
    if (type == AE_IFLNK || archive_entry_symlink(entry) != nullptr) {
      return entryError("is a symbolic link");
    }
    if (type != AE_IFREG) return entryError(std::string("is ") + describeType(type));
    if (archive_entry_sparse_count(entry) > 0) return entryError("is a sparse file");

    auto canonical = normalizePath(name);
    if (!canonical) return canonical.error();
    if (files.contains(*canonical)) {
      return entryError("is a duplicate of an earlier entry (after normalisation)");
    }
    if (files.size() >= limits.maxFiles) {
      return invalid("bundle has more than " + std::to_string(limits.maxFiles) + " files");
    }

    // Enforce limits on bytes actually delivered; header sizes are never trusted.
    std::string content;
    while (true) {
      const la_ssize_t n = archive_read_data(a.get(), buffer.data(), buffer.size());
      if (n == 0) break;
      if (n < 0) {
        return entryError("is truncated or damaged: " + archiveMessage(a.get()));
      }
      const auto got = static_cast<uint64_t>(n);
      if (content.size() + got > limits.maxFileBytes) {
        return tooLarge("bundle entry " + quote(name) + " exceeds the per-file limit of " +
                        std::to_string(limits.maxFileBytes) + " bytes");
      }
      if (total + got > limits.maxBundleBytes) {
        return tooLarge("bundle content exceeds the limit of " +
                        std::to_string(limits.maxBundleBytes) + " bytes");
      }
      content.append(buffer.data(), static_cast<size_t>(n));
      total += got;
    }
    files.emplace(std::move(*canonical), std::move(content));
  }
  if (files.empty()) return invalid("bundle has no files");
  return files;
}

std::string sha256(std::string_view bundle) { return cs::crypto::sha256Hex(bundle); }

cs::Status verify(std::string_view bundle, std::string_view expectedSha256Hex) {
  constexpr size_t kHexLen = 64;
  if (expectedSha256Hex.size() != kHexLen) {
    return invalid("expected bundle sha256 must be 64 hex characters");
  }
  std::string expected(expectedSha256Hex);
  for (char& c : expected) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return invalid("expected bundle sha256 must be 64 hex characters");
    }
  }
  if (sha256(bundle) != expected) return invalid("bundle sha256 mismatch");
  return cs::okStatus();
}

cs::Result<Files> readDirectory(const std::filesystem::path& dir, const Limits& limits) {
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec) {
    return invalid("cannot read function directory " + quote(dir.string()) + ": " + ec.message());
  }
  if (!fs::is_directory(root, ec)) {
    return invalid("function path " + quote(dir.string()) + " is not a directory");
  }

  Files files;
  uint64_t total = 0;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) {
    return invalid("cannot read function directory " + quote(dir.string()) + ": " + ec.message());
  }
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) break;
    const fs::path& path = it->path();
    const std::string rel = path.lexically_relative(root).generic_string();
    const std::string name = path.filename().string();
    const fs::file_status st = it->symlink_status(ec);
    if (ec) return invalid("cannot stat " + quote(rel) + ": " + ec.message());

    if (name.starts_with('.') || name == "node_modules") {
      if (fs::is_directory(st)) it.disable_recursion_pending();
      continue;
    }
    fs::path source = path;
    if (fs::is_symlink(st)) {
      const fs::path target = fs::canonical(path, ec);
      if (ec) return invalid("symlink " + quote(rel) + " is dangling or unreadable");
      const fs::path inside = target.lexically_relative(root);
      if (inside.empty() || *inside.begin() == ".." || inside == ".") {
        return invalid("symlink " + quote(rel) + " points outside the function directory");
      }
      const fs::file_status targetStatus = fs::status(target, ec);
      if (ec || !fs::is_regular_file(targetStatus)) {
        return invalid("symlink " + quote(rel) + " does not point at a regular file");
      }
      source = target;
    } else if (fs::is_directory(st)) {
      continue;
    } else if (!fs::is_regular_file(st)) {
      return invalid(quote(rel) + " is not a regular file");
    }

    auto canonical = normalizePath(rel);
    if (!canonical) return canonical.error();
    if (files.size() >= limits.maxFiles) {
      return invalid("function directory has more than " + std::to_string(limits.maxFiles) +
                     " files");
    }
    const uint64_t size = fs::file_size(source, ec);
    if (ec) return invalid("cannot stat " + quote(rel) + ": " + ec.message());
    if (size > limits.maxFileBytes) {
      return tooLarge("file " + quote(rel) + " is " + std::to_string(size) +
                      " bytes, over the per-file limit of " + std::to_string(limits.maxFileBytes) +
                      " bytes");
    }
    if (total + size > limits.maxBundleBytes) {
      return tooLarge("function directory content exceeds the limit of " +
                      std::to_string(limits.maxBundleBytes) + " bytes");
    }

    // Read at most what the limits still allow plus one byte, in case the file grew.
    const uint64_t budget = std::min(limits.maxFileBytes, limits.maxBundleBytes - total);
    std::ifstream in(source, std::ios::binary);
    if (!in) return invalid("cannot open " + quote(rel));
    std::string content;
    std::string chunk(kReadChunk, '\0');
    while (in) {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      const auto n = static_cast<uint64_t>(in.gcount());
      if (content.size() + n > budget) {
        return tooLarge("file " + quote(rel) + " grew past the size limit while being read");
      }
      content.append(chunk.data(), static_cast<size_t>(n));
    }
    if (in.bad()) return invalid("cannot read " + quote(rel));
    total += content.size();
    files.emplace(std::move(*canonical), std::move(content));
  }
  if (ec) {
    return invalid("cannot read function directory " + quote(dir.string()) + ": " + ec.message());
  }
  return files;
}

}  // namespace cs::bundle

// Canonical function bundles (SPEC §6): a deterministic ustar archive of a set of files, its
// sha256, and safe in-memory extraction of untrusted tar bytes.
//
// All functions are pure (no shared state) and safe to call from any thread. libarchive stays
// behind this header: callers see only Files and byte strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "internal/errors/errors.h"

namespace cs::bundle {

// Relative path ("lib/util.js") -> file bytes. std::map keeps paths in byte order, which is the
// canonical entry order.
using Files = std::map<std::string, std::string>;

inline constexpr uint64_t kDefaultMaxBundleBytes = 16ull * 1024 * 1024;  // SPEC §14
inline constexpr size_t kDefaultMaxFiles = 256;

// What the limits measure:
//  - maxBundleBytes: the SUM OF FILE CONTENT BYTES (not the tar size). Content totalling exactly
//    maxBundleBytes is accepted, one byte more is CS_VALIDATION_BUNDLE_TOO_LARGE. The tar framing
//    on top is bounded by maxTarBytes(), which unpack() uses as a cheap pre-parse gate.
//  - maxFileBytes: content bytes of any single file (CS_VALIDATION_BUNDLE_TOO_LARGE).
//  - maxFiles: number of regular files (CS_VALIDATION_FAILED).
struct Limits {
  uint64_t maxBundleBytes = kDefaultMaxBundleBytes;
  uint64_t maxFileBytes = kDefaultMaxBundleBytes;
  size_t maxFiles = kDefaultMaxFiles;
};

// Upper bound on the size of a tar that can hold content within `limits`: content plus, per
// file, room for a header, a pax/GNU long-name header with its data and padding, plus one
// 10240-byte record of end padding. Generous on purpose so tars from other writers still pass.
uint64_t maxTarBytes(const Limits& limits);

// Checks one bundle path and returns its canonical form. Rules: non-empty; relative (no leading
// '/'); no '.' or '..' components; no backslash, NUL or other control byte; repeated '/' are
// collapsed ("a//b" -> "a/b"), a trailing '/' is rejected (names a directory); the canonical form
// must fit a ustar header (name <= 100 bytes, or prefix <= 155 + '/' + name <= 100).
// CS_VALIDATION_FAILED naming the path otherwise.
cs::Result<std::string> normalizePath(std::string_view path);

// Canonical tar: ustar, entries in byte-sorted canonical path order, regular files only, mode
// 0644, uid/gid 0, empty uname/gname, mtime 0, no directory entries, no pax/GNU extension
// headers, 512-byte blocking (size = sum(512 + roundUp512(len)) + 1024). Same files -> same
// bytes -> same sha256. Rejects an empty set, invalid or duplicate (after normalisation) paths
// and anything over `limits`.
cs::Result<std::string> pack(const Files& files, const Limits& limits = {});

// Safe extraction of untrusted tar bytes into memory; never touches the filesystem. Accepts tar
// formats only (no compression filters). Regular files only: symlinks, hardlinks, devices, FIFOs
// and sparse entries are rejected; directory entries with a valid path are ignored. Paths follow
// normalizePath(); duplicates are rejected. Sizes are enforced on the bytes actually read, never
// on header claims alone. Garbage or truncated input is CS_VALIDATION_FAILED; content over the
// limits (or input over maxTarBytes) is CS_VALIDATION_BUNDLE_TOO_LARGE.
cs::Result<Files> unpack(std::string_view tarBytes, const Limits& limits = {});

// Lower-case hex sha256 of the bundle bytes.
std::string sha256(std::string_view bundle);

// CS_VALIDATION_FAILED "bundle sha256 mismatch" unless sha256(bundle) equals the expected hex
// (case-insensitive); a malformed expected digest is also CS_VALIDATION_FAILED.
cs::Status verify(std::string_view bundle, std::string_view expectedSha256Hex);

// Reads a function directory (CLI upload / local test). Recurses; keeps regular files only;
// skips any dotfile or dot-directory and any `node_modules` directory. A symlink is followed only
// if it resolves to a regular file inside `dir`; one escaping `dir`, dangling, or pointing at a
// directory is rejected. Sockets, FIFOs and devices are rejected. Paths are relative with '/'
// separators and must pass normalizePath(); the same limits as pack() apply, checked before and
// while reading.
cs::Result<Files> readDirectory(const std::filesystem::path& dir, const Limits& limits = {});

}  // namespace cs::bundle

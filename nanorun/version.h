// nanorun's version, for code that must know which nanorun it was built against.
//
// The numbers follow Semantic Versioning (CHANGELOG.md lists each release). Every
// nanorun name lives in the inline namespace nanorun::v0: code says nanorun::Runtime,
// the linker sees nanorun::v0::Runtime. A release that breaks the ABI moves to a new
// inline namespace, so two different copies of nanorun linked into one binary (a
// monorepo vendoring one, a prebuilt library bringing another) get different symbol
// names and fail to link or coexist, instead of silently breaking the one-definition
// rule.
#ifndef NANORUN_VERSION_H_
#define NANORUN_VERSION_H_

// The release's numbers: MAJOR.MINOR.PATCH (Semantic Versioning).
#define NANORUN_VERSION_MAJOR 0
// The minor number: features added, nothing broken.
#define NANORUN_VERSION_MINOR 1
// The patch number: fixes only.
#define NANORUN_VERSION_PATCH 0
// "MAJOR.MINOR.PATCH"
#define NANORUN_VERSION_STRING "0.1.0"
// MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons.
#define NANORUN_VERSION \
  (NANORUN_VERSION_MAJOR * 10000 + NANORUN_VERSION_MINOR * 100 + NANORUN_VERSION_PATCH)

#endif  // NANORUN_VERSION_H_

// Limits on what the engine reads from outside files and users, so that a file or prompt that
// would need more memory than a desktop has is refused with a message naming the file and the
// limit, instead of failing an allocation (or exhausting the machine) half-way. Each limit is far
// above anything real: the numbers say what "real" means.
#pragma once
#include <cstddef>
#include <string>

namespace statescope::limits {

// JSON and other text files (config.json, tokenizer.json, the shard index, task.json, lessons):
// the largest real tokenizer.json files are tens of MB.
constexpr size_t kMaxTextFileBytes = size_t(256) << 20;
// A safetensors header (the JSON before the tensors): real ones are a few MB even for 1000 shards.
constexpr size_t kMaxSafetensorsHeaderBytes = size_t(256) << 20;
// A tokenizer vocabulary: real ones have up to ~260k entries.
constexpr size_t kMaxVocabularyEntries = size_t(8) << 20;
// Text given to a tokenizer at once (a prompt, a file of text): a book is ~1 MB.
constexpr size_t kMaxPromptBytes = size_t(64) << 20;
// PyTorch checkpoints (engine/core/zip_reader.cpp, pickle_reader.cpp). A state dict has one ZIP
// entry per storage (a few thousand for the largest models) and a data.pkl of ~100 bytes per
// tensor; its pickle builds ~20 objects per tensor, nests dicts a few levels deep, and its strings
// are tensor names.
constexpr size_t kMaxZipEntries = size_t(1) << 20;
constexpr size_t kMaxPickleBytes = size_t(256) << 20;
constexpr size_t kMaxPickleObjects = size_t(4) << 20; // also bounds the walk over its dicts
constexpr size_t kMaxPickleMemoEntries = size_t(4) << 20;
constexpr size_t kMaxPickleStringBytes = size_t(1) << 20;
constexpr size_t kMaxPickleNesting = 64; // dicts inside dicts when the state dict is flattened

// Throws Error "<what>: <size> is over the limit of <limit> (<limit_name>)" when size > limit.
void check(const std::string& what, size_t size, size_t limit, const char* limit_name);

} // namespace statescope::limits

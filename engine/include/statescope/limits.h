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

// Throws Error "<what>: <size> is over the limit of <limit> (<limit_name>)" when size > limit.
void check(const std::string& what, size_t size, size_t limit, const char* limit_name);

} // namespace statescope::limits

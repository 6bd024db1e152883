// A small JSON reader for config.json, safetensors headers and tokenizer.json.
// Objects keep their key order (tokenizer merges and safetensors headers are order-sensitive to
// humans reading errors); lookups are linear for small objects and indexed for large ones.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace statescope {

class Json {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };

    Json() = default;
    static Json parse(std::string_view text, const std::string& source_name);

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }
    bool is_bool() const { return type_ == Type::Bool; }
    bool is_number() const { return type_ == Type::Number; }
    bool is_string() const { return type_ == Type::String; }
    bool is_array() const { return type_ == Type::Array; }
    bool is_object() const { return type_ == Type::Object; }

    bool as_bool() const { return bool_; }
    double as_number() const { return number_; }
    // True when the number was written without fraction or exponent and fits in int64.
    bool is_integer() const { return type_ == Type::Number && integer_; }
    int64_t as_int() const { return int_; }
    const std::string& as_string() const { return string_; }
    const std::vector<Json>& items() const { return array_; }
    const std::vector<std::pair<std::string, Json>>& members() const { return object_; }

    // Object member or nullptr.
    const Json* find(std::string_view key) const;
    size_t size() const { return type_ == Type::Array ? array_.size() : object_.size(); }

    static const char* type_name(Type t);

private:
    friend class JsonParser;
    Type type_ = Type::Null;
    bool bool_ = false;
    bool integer_ = false;
    double number_ = 0;
    int64_t int_ = 0;
    std::string string_;
    std::vector<Json> array_;
    std::vector<std::pair<std::string, Json>> object_;
    std::shared_ptr<std::map<std::string, size_t, std::less<>>> index_; // for large objects
};

// Reads a whole file; throws Error naming the path when it cannot.
std::string read_text_file(const std::string& path);

} // namespace statescope

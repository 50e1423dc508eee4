#include "kernel/table_text.hpp"

#include <map>

#include <algorithm>
#include <cctype>

#include <fmt/core.h>

namespace portcullis::kernel {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Walks nft text one significant character at a time, stepping over quoted strings and
// `#` comments so that braces inside them are never counted.
class Cursor {
public:
    explicit Cursor(std::string_view text, std::size_t pos = 0) : text_(text), pos_(pos) {}

    bool done() const { return pos_ >= text_.size(); }
    std::size_t pos() const { return pos_; }
    char peek() const { return text_[pos_]; }

    void skip_blanks() {
        while (!done()) {
            char c = text_[pos_];
            if (is_space(c)) {
                ++pos_;
            } else if (c == '#') {
                while (!done() && text_[pos_] != '\n') ++pos_;
            } else {
                return;
            }
        }
    }

    // A word, or a quoted string (returned without its quotes). Empty at a delimiter.
    std::string word() {
        std::string out;
        if (done()) return out;
        if (text_[pos_] == '"') {
            ++pos_;
            while (!done() && text_[pos_] != '"') out += text_[pos_++];
            if (!done()) ++pos_;
            return out;
        }
        while (!done()) {
            char c = text_[pos_];
            if (is_space(c) || c == '\n' || c == '{' || c == '}' || c == ';' || c == '#') break;
            out += c;
            ++pos_;
        }
        return out;
    }

    // From just after an opening brace, finds its closing brace; returns its offset.
    std::optional<std::size_t> matching_close() {
        int depth = 1;
        while (!done()) {
            char c = text_[pos_];
            if (c == '"') {
                ++pos_;
                while (!done() && text_[pos_] != '"') ++pos_;
                if (!done()) ++pos_;
                continue;
            }
            if (c == '#') {
                while (!done() && text_[pos_] != '\n') ++pos_;
                continue;
            }
            if (c == '{') ++depth;
            if (c == '}' && --depth == 0) return pos_++;
            ++pos_;
        }
        return std::nullopt;
    }

    void advance() { ++pos_; }

private:
    std::string_view text_;
    std::size_t pos_;
};

std::string join(const std::vector<std::string>& words, std::size_t from, std::size_t to) {
    std::string out;
    for (std::size_t i = from; i < to; ++i) {
        if (!out.empty()) out += ' ';
        out += words[i];
    }
    return out;
}

// Statements of a body at its own top level (separated by ';' or newlines), each with its
// offsets in `body`; nested braces (e.g. `elements = { ... }` over many lines) stay inside.
struct Statement {
    std::string_view text;
    std::size_t begin;
    std::size_t end;
};

std::vector<Statement> statements(std::string_view body) {
    std::vector<Statement> out;
    std::size_t start = 0;
    int depth = 0;
    bool in_string = false;
    auto flush = [&](std::size_t stop) {
        std::size_t b = start;
        while (b < stop && (is_space(body[b]) || body[b] == '\n')) ++b;
        std::size_t e = stop;
        while (e > b && (is_space(body[e - 1]) || body[e - 1] == '\n')) --e;
        if (e > b) out.push_back(Statement{body.substr(b, e - b), b, e});
    };
    for (std::size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (in_string) {
            if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '#' && depth == 0) {
            flush(i);
            while (i < body.size() && body[i] != '\n') ++i;
            start = i;
        } else if (c == '{') {
            ++depth;
        } else if (c == '}') {
            if (depth > 0) --depth;
        } else if ((c == ';' || c == '\n') && depth == 0) {
            flush(i);
            start = i + 1;
        }
    }
    flush(body.size());
    return out;
}

std::string collapse_whitespace(std::string_view text) {
    std::string out;
    bool pending_space = false;
    for (char c : text) {
        if (is_space(c) || c == '\n') {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out += ' ';
        pending_space = false;
        out += c;
    }
    return out;
}

bool starts_with_word(std::string_view text, std::string_view word) {
    return text.size() > word.size() && text.substr(0, word.size()) == word &&
           (is_space(text[word.size()]) || text[word.size()] == '=');
}

}  // namespace

namespace {
std::string object_key(std::string_view kind, std::string_view name) {
    std::string key(kind);
    key += '\0';
    key += name;
    return key;
}
}  // namespace

void TableText::index() {
    by_key_.clear();
    for (std::size_t i = 0; i < objects.size(); ++i) by_key_.emplace(object_key(objects[i].kind, objects[i].name), i);
}

const TableObject* TableText::find(std::string_view kind, std::string_view object_name) const {
    auto hit = by_key_.find(object_key(kind, object_name));
    if (hit == by_key_.end() || hit->second >= objects.size()) return nullptr;
    return &objects[hit->second];
}

Result<TableText> scan_table(std::string_view text) {
    Cursor cursor(text);
    TableText table;
    // Find `table FAMILY NAME {` at the top level.
    while (true) {
        cursor.skip_blanks();
        if (cursor.done()) return fail("no `table` block found");
        if (cursor.peek() == '\n' || cursor.peek() == ';') {
            cursor.advance();
            continue;
        }
        std::string keyword = cursor.word();
        if (keyword == "table") break;
        if (keyword.empty()) return fail(fmt::format("unexpected '{}' before the table block", cursor.peek()));
        // Some other top-level command (`add table ...`, `flush chain ...`): skip to its end.
        while (!cursor.done() && cursor.peek() != '\n' && cursor.peek() != ';') {
            cursor.skip_blanks();
            if (cursor.done() || cursor.peek() == '\n' || cursor.peek() == ';') break;
            if (cursor.peek() == '{') {
                cursor.advance();
                if (!cursor.matching_close()) return fail("unbalanced braces before the table block");
            } else if (cursor.word().empty()) {
                cursor.advance();
            }
        }
    }
    cursor.skip_blanks();
    table.family = cursor.word();
    cursor.skip_blanks();
    table.name = cursor.word();
    cursor.skip_blanks();
    if (table.family.empty() || table.name.empty() || cursor.done() || cursor.peek() != '{')
        return fail("malformed table header: expected `table FAMILY NAME {`");
    cursor.advance();

    std::vector<std::string> words;
    std::size_t header_begin = 0;
    while (true) {
        cursor.skip_blanks();
        if (cursor.done()) return fail(fmt::format("table {} {} is not closed with '}}'", table.family, table.name));
        char c = cursor.peek();
        if (c == '}') {
            table.index();
            return table;
        }
        if (c == '\n' || c == ';') {
            words.clear();
            cursor.advance();
            continue;
        }
        if (c == '{') {
            cursor.advance();
            std::size_t body_begin = cursor.pos();
            auto close = cursor.matching_close();
            if (!close) return fail("unbalanced braces in the table text");
            if (words.size() < 2) return fail("an object block without a kind and a name");
            TableObject object;
            object.kind = join(words, 0, words.size() - 1);
            object.name = words.back();
            object.body = text.substr(body_begin, *close - body_begin);
            object.begin = header_begin;
            object.end = *close + 1;
            table.objects.push_back(std::move(object));
            words.clear();
            continue;
        }
        if (words.empty()) header_begin = cursor.pos();
        std::string w = cursor.word();
        if (w.empty()) {
            cursor.advance();
            continue;
        }
        words.push_back(std::move(w));
    }
}

SetShape set_shape(const TableObject& set_or_map) {
    SetShape shape;
    shape.is_map = set_or_map.kind == "map";
    for (const auto& statement : statements(set_or_map.body)) {
        std::string_view s = statement.text;
        if (starts_with_word(s, "type") || starts_with_word(s, "typeof")) {
            shape.key = collapse_whitespace(s);
        } else if (starts_with_word(s, "flags")) {
            std::string rest = collapse_whitespace(s.substr(5));
            std::size_t start = 0;
            while (start <= rest.size()) {
                std::size_t comma = rest.find(',', start);
                if (comma == std::string::npos) comma = rest.size();
                std::string flag = collapse_whitespace(std::string_view(rest).substr(start, comma - start));
                if (!flag.empty()) shape.flags.push_back(flag);
                start = comma + 1;
            }
        } else if (starts_with_word(s, "timeout")) {
            shape.default_timeout = collapse_whitespace(s.substr(7));
        }
    }
    // The kernel sets the timeout flag itself when a set declares a default timeout.
    if (shape.default_timeout && std::find(shape.flags.begin(), shape.flags.end(), "timeout") == shape.flags.end())
        shape.flags.push_back("timeout");
    std::sort(shape.flags.begin(), shape.flags.end());
    shape.flags.erase(std::unique(shape.flags.begin(), shape.flags.end()), shape.flags.end());
    return shape;
}

std::string strip_set_elements(std::string_view text, const std::vector<std::string>& set_names) {
    auto table = scan_table(text);
    if (!table) return std::string(text);
    std::vector<std::pair<std::size_t, std::size_t>> cuts;  // [begin, end) offsets in text
    for (const auto& object : table->objects) {
        if (object.kind != "set" && object.kind != "map") continue;
        if (std::find(set_names.begin(), set_names.end(), object.name) == set_names.end()) continue;
        std::size_t body_offset = static_cast<std::size_t>(object.body.data() - text.data());
        for (const auto& statement : statements(object.body)) {
            if (!starts_with_word(statement.text, "elements")) continue;
            std::size_t begin = body_offset + statement.begin;
            std::size_t end = body_offset + statement.end;
            // Take the line's leading indentation and the terminator with it.
            while (begin > 0 && is_space(text[begin - 1])) --begin;
            if (end < text.size() && (text[end] == ';' || text[end] == '\n')) ++end;
            cuts.emplace_back(begin, end);
        }
    }
    std::sort(cuts.begin(), cuts.end());
    std::string out;
    std::size_t at = 0;
    for (const auto& [begin, end] : cuts) {
        out.append(text.substr(at, begin - at));
        at = end;
    }
    out.append(text.substr(at));
    return out;
}

namespace {

// Drops the per-element state a listing adds (`counter packets N bytes M`, `expires 3s`,
// `timeout 1h`) and keeps what identifies the element as declared: key, ` : data` for maps, and
// the comment (it names the counter the element belongs to, so a changed comment is a change).
std::string element_identity(std::string_view element) {
    std::string text = collapse_whitespace(element);
    std::string comment;
    if (std::size_t at = text.find(" comment \""); at != std::string::npos) {
        comment = text.substr(at);
        text.erase(at);
    }
    for (std::string_view word : {" counter packets ", " expires ", " timeout "}) {
        std::size_t at = text.find(word);
        if (at != std::string::npos) text.erase(at);
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text + comment;
}

}  // namespace

std::vector<std::string> set_elements(const TableObject& set_or_map) {
    std::vector<std::string> out;
    for (auto& element : set_elements_with_text(set_or_map)) out.push_back(std::move(element.identity));
    return out;
}

std::vector<ElementText> set_elements_with_text(const TableObject& set_or_map) {
    std::vector<ElementText> out;
    for (const auto& statement : statements(set_or_map.body)) {
        if (!starts_with_word(statement.text, "elements")) continue;
        std::string_view text = statement.text;
        std::size_t open = text.find('{');
        std::size_t close = text.rfind('}');
        if (open == std::string_view::npos || close == std::string_view::npos || close <= open) continue;
        std::string_view inner = text.substr(open + 1, close - open - 1);
        bool in_string = false;
        int depth = 0;
        std::size_t start = 0;
        auto take = [&](std::size_t stop) {
            std::string_view raw = inner.substr(start, stop - start);
            auto identity = element_identity(raw);
            if (!identity.empty()) out.push_back({std::move(identity), collapse_whitespace(raw)});
        };
        for (std::size_t i = 0; i < inner.size(); ++i) {
            char c = inner[i];
            if (in_string) {
                if (c == '"') in_string = false;
            } else if (c == '"') {
                in_string = true;
            } else if (c == '{') {
                ++depth;
            } else if (c == '}') {
                if (depth > 0) --depth;
            } else if (c == ',' && depth == 0) {
                take(i);
                start = i + 1;
            }
        }
        take(inner.size());
    }
    return out;
}

std::string element_key(std::string_view identity) {
    identity = identity.substr(0, identity.find(" comment \""));
    return std::string(identity.substr(0, identity.find(" : ")));
}

std::optional<std::string> base_chain_header(const TableObject& chain) {
    for (const auto& statement : statements(chain.body)) {
        if (starts_with_word(statement.text, "type")) return collapse_whitespace(statement.text);
        return std::nullopt;  // the header, when there is one, is the first statement
    }
    return std::nullopt;
}

std::string replace_set_elements(std::string_view text, const std::map<std::string, std::vector<std::string>>& sets) {
    auto table = scan_table(text);
    if (!table) return std::string(text);
    std::vector<std::pair<std::size_t, std::size_t>> cuts;  // [begin, end) offsets in text
    std::vector<std::string> replacements;
    for (const auto& object : table->objects) {
        if (object.kind != "set" && object.kind != "map") continue;
        auto wanted = sets.find(object.name);
        if (wanted == sets.end()) continue;
        std::size_t body_offset = static_cast<std::size_t>(object.body.data() - text.data());
        for (const auto& statement : statements(object.body)) {
            if (!starts_with_word(statement.text, "elements")) continue;
            std::string replacement;
            if (!wanted->second.empty()) {
                replacement = "elements = { ";
                for (std::size_t i = 0; i < wanted->second.size(); ++i)
                    replacement += (i ? ", " : "") + wanted->second[i];
                replacement += " }";
            }
            // Same number of lines as the original statement, so nft's error locations still
            // point at the compiled text's lines.
            replacement.append(static_cast<std::size_t>(std::count(statement.text.begin(), statement.text.end(), '\n')),
                               '\n');
            cuts.emplace_back(body_offset + statement.begin, body_offset + statement.end);
            replacements.push_back(std::move(replacement));
        }
    }
    std::vector<std::size_t> order(cuts.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return cuts[a] < cuts[b]; });
    std::string out;
    std::size_t at = 0;
    for (std::size_t i : order) {
        out.append(text.substr(at, cuts[i].first - at));
        out += replacements[i];
        at = cuts[i].second;
    }
    out.append(text.substr(at));
    return out;
}

std::string merge_table_blocks(std::string_view listing, std::string_view family, std::string_view name) {
    const std::string head = "table " + std::string(family) + " " + std::string(name) + " {";
    std::string bodies;
    std::size_t at = 0;
    while ((at = listing.find(head, at)) != std::string_view::npos) {
        if (at > 0 && listing[at - 1] != '\n') {
            at += head.size();
            continue;
        }
        std::size_t open = at + head.size();
        int depth = 1;
        bool in_string = false;
        std::size_t i = open;
        for (; i < listing.size() && depth > 0; ++i) {
            char c = listing[i];
            if (in_string) {
                if (c == '"') in_string = false;
            } else if (c == '"') {
                in_string = true;
            } else if (c == '{') {
                ++depth;
            } else if (c == '}') {
                --depth;
            }
        }
        if (depth != 0) break;  // truncated listing: take what was complete
        bodies.append(listing.substr(open, i - 1 - open));
        if (!bodies.empty() && bodies.back() != '\n') bodies += '\n';
        at = i;
    }
    return head + "\n" + bodies + "}\n";
}

bool is_runtime_set_name(std::string_view name) {
    if (name == compile::kBanSetV4 || name == compile::kBanSetV6 || name == compile::kBanHostSetV4 ||
        name == compile::kBanHostSetV6)
        return true;
    return (name.size() > 7 && (name.substr(0, 7) == "grant4_" || name.substr(0, 7) == "grant6_"));
}

Result<compile::TableManifest> manifest_from_text(std::string_view table_text) {
    auto table = scan_table(table_text);
    if (!table) return fail(table.error().message);
    compile::TableManifest manifest;
    for (const auto& object : table->objects) {
        if (object.kind == "chain") {
            manifest.chains.push_back(object.name);
        } else if (object.kind == "set" || object.kind == "map") {
            if (object.kind == "set" && is_runtime_set_name(object.name))
                manifest.runtime_sets.push_back(object.name);
            else
                manifest.sets.push_back(object.name);
        } else if (object.kind == "counter") {
            manifest.counters.push_back(object.name);
        } else if (object.kind == "ct helper") {
            manifest.ct_helpers.push_back(object.name);
        }
    }
    return manifest;
}

}  // namespace portcullis::kernel

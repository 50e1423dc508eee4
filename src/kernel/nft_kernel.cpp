#include "kernel/nft_kernel.hpp"

#include "kernel/netlink_objects.hpp"
#include "kernel/netlink_set_listing.hpp"
#include "kernel/netlink_set_writer.hpp"
#include "kernel/netlink_socket.hpp"
#include "kernel/table_text.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <span>
#include <thread>

#include <nftables/libnftables.h>

#include <fmt/core.h>

#include "compile/compile.hpp"

namespace portcullis::kernel {
namespace {

const std::string kTableRef = fmt::format("{} {}", compile::kTableFamily, compile::kTableName);

// One libnftables context per call: no cache survives between calls, so every call sees the
// kernel as it is now (another program, or the daemon, may have changed it meanwhile).
class Context {
public:
    Context() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
        if (ctx_ == nullptr) return;
        nft_ctx_buffer_output(ctx_);
        nft_ctx_buffer_error(ctx_);
    }
    ~Context() {
        if (ctx_ != nullptr) nft_ctx_free(ctx_);
    }
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    bool ok() const { return ctx_ != nullptr; }
    void set_output_flags(unsigned int flags) { nft_ctx_output_set_flags(ctx_, flags); }
    void set_dry_run(bool dry) { nft_ctx_set_dry_run(ctx_, dry); }

    // Returns the output buffer on success, the error buffer on failure.
    Result<std::string> run(const std::string& script) { return finish(nft_run_cmd_from_buffer(ctx_, script.c_str())); }
    Result<std::string> run_file(const std::string& path) { return finish(nft_run_cmd_from_filename(ctx_, path.c_str())); }

private:
    Result<std::string> finish(int rc) {
        const char* out = nft_ctx_get_output_buffer(ctx_);
        const char* err = nft_ctx_get_error_buffer(ctx_);
        if (rc != 0) {
            std::string message = err != nullptr ? err : "";
            while (!message.empty() && message.back() == '\n') message.pop_back();
            if (message.empty()) message = "nft failed without a message";
            return fail(std::move(message));
        }
        return std::string(out != nullptr ? out : "");
    }

    nft_ctx* ctx_;
};

unsigned int listing_flags(Detail detail) {
    return detail == Detail::terse ? static_cast<unsigned int>(NFT_CTX_OUTPUT_TERSE) : 0U;
}

class LibNftables final : public Nftables {
public:
    // The script is run from a memfd rather than a buffer: nft then reports errors as
    // FILE:LINE:COLUMN with the right line (from a buffer it prints the text without a line
    // number, and in 1.0.6 sometimes the wrong line). FILE is rewritten to kScriptLocation.
    Result<void> run(std::string_view script, RunMode mode) override {
        Context ctx;
        if (!ctx.ok()) return fail("libnftables: cannot create a context");
        ctx.set_dry_run(mode == RunMode::check);
        int fd = ::memfd_create("portcullis-transaction", MFD_CLOEXEC);
        if (fd < 0) return fail(fmt::format("memfd_create: {}", std::strerror(errno)));
        std::size_t done = 0;
        while (done < script.size()) {
            ssize_t n = ::write(fd, script.data() + done, script.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                std::string why = std::strerror(errno);
                ::close(fd);
                return fail("cannot stage the nft script: " + why);
            }
            done += static_cast<std::size_t>(n);
        }
        std::string path = fmt::format("/proc/self/fd/{}", fd);
        auto result = ctx.run_file(path);
        ::close(fd);
        if (!result) {
            std::string message = result.error().message;
            for (std::size_t at = message.find(path); at != std::string::npos; at = message.find(path, at))
                message.replace(at, path.size(), kScriptLocation);
            return fail(std::move(message));
        }
        return {};
    }

    Result<std::optional<nlohmann::json>> list_table_json(Detail detail) override {
        auto text = list("list table " + kTableRef, NFT_CTX_OUTPUT_JSON | listing_flags(detail));
        if (!text) return fail(text.error().message);
        if (!*text) return std::optional<nlohmann::json>{};
        auto parsed = nlohmann::json::parse(**text, nullptr, /*allow_exceptions=*/false);
        if (parsed.is_discarded()) return fail("libnftables returned a JSON listing that does not parse");
        return std::optional<nlohmann::json>(std::move(parsed));
    }

    Result<std::optional<std::string>> list_table_text(Detail detail) override {
        return list("list table " + kTableRef, listing_flags(detail));
    }

    Result<std::optional<std::string>> list_table_skeleton() override {
        // Family-wide listings of sets, maps and chains print declarations only and fetch no set
        // elements; `list tables` and the per-table object listings would fetch every element of
        // every set first (5 s with 200k bans), so objects come from one netlink dump instead.
        // The three listings run in one context, one cache fill (nft 1.0.6 prints them in order;
        // family-wide listings carry no per-set cache filter, unlike `list set` commands, which
        // cannot share a run: the second one's set is then reported missing).
        const std::string commands = std::string("list sets ") + compile::kTableFamily + "\nlist maps " +
                                     compile::kTableFamily + "\nlist chains " + compile::kTableFamily + "\n";
        Context ctx;
        if (!ctx.ok()) return fail("libnftables: cannot create a context");
        ctx.set_output_flags(NFT_CTX_OUTPUT_TERSE);
        auto listed = ctx.run(commands);
        if (!listed) return fail("`nft list sets/maps/chains`: " + listed.error().message);
        const std::string& listing = *listed;
        const std::string head = std::string("table ") + compile::kTableFamily + " " + compile::kTableName + " {";
        const bool present = listing.rfind(head, 0) == 0 || listing.find("\n" + head) != std::string::npos;
        // Our table always holds the ban sets; without sets and chains it is absent or empty,
        // and `add table` handles both.
        if (!present) return std::optional<std::string>();
        auto objects = list_table_objects(compile::kTableFamily, compile::kTableName);
        if (!objects) return fail(objects.error().message);
        std::string text = merge_table_blocks(listing, compile::kTableFamily, compile::kTableName);
        text.pop_back();  // "}\n"
        text.pop_back();
        for (const auto& object : *objects) text += "\t" + object.kind + " " + object.name + " {\n\t}\n";
        text += "}\n";
        return std::optional<std::string>(std::move(text));
    }

    // Half of the sets are listed on a second thread with its own socket: the kernel's element
    // dumps are CPU work inside recvmsg(), so two cores list a 10k-service table's kept sets in
    // about half the time.
    void prefetch_sets(const std::vector<std::pair<std::string, std::string>>& sets) override {
        prefetched_.clear();
        if (sets.size() < 2) return;
        auto list_range = [](std::span<const std::pair<std::string, std::string>> part, NetlinkSocket& socket,
                             std::map<std::string, std::string>& out) {
            for (const auto& [kind, name] : part) {
                auto listed = list_set_over_netlink(socket, compile::kTableFamily, compile::kTableName, kind, name);
                if (listed && listed->supported) out[kind + " " + name] = std::move(listed->text);
            }
        };
        auto second = NetlinkSocket::open(4 * 1024 * 1024);
        if (!listing_socket_) {
            if (auto opened = NetlinkSocket::open(4 * 1024 * 1024)) listing_socket_ = std::move(*opened);
        }
        if (!second || !listing_socket_) return;  // list_set_text lists them one by one instead
        std::span<const std::pair<std::string, std::string>> all(sets);
        std::size_t half = sets.size() / 2;
        std::map<std::string, std::string> theirs;
        std::thread helper([&] { list_range(all.subspan(half), **second, theirs); });
        list_range(all.first(half), *listing_socket_, prefetched_);
        helper.join();
        prefetched_.merge(theirs);
    }

    Result<std::string> list_set_text(const std::string& kind, const std::string& name) override {
        if (auto hit = prefetched_.find(kind + " " + name); hit != prefetched_.end()) {
            std::string text = std::move(hit->second);
            prefetched_.erase(hit);
            return text;
        }
        // Over netlink when the set's types are ones the netlink printer knows (every set the
        // compiler writes): one socket for all of an apply's listings, no libnftables cache fill.
        if (!listing_socket_) {
            if (auto opened = NetlinkSocket::open(4 * 1024 * 1024)) listing_socket_ = std::move(*opened);
        }
        if (listing_socket_) {
            auto over_netlink =
                list_set_over_netlink(*listing_socket_, compile::kTableFamily, compile::kTableName, kind, name);
            if (over_netlink && over_netlink->supported) return std::move(over_netlink->text);
        }
        auto listed = list("list " + kind + " " + kTableRef + " " + name, 0);
        if (!listed) return fail(listed.error().message);
        if (!*listed) return fail("the table does not exist");
        return std::move(**listed);
    }

    bool writes_set_elements() const override { return true; }

    Result<void> write_set_elements(std::span<const WireSet> sets) override {
        auto socket = NetlinkSocket::open(kSocketBufferBytes);
        if (!socket) return fail("netlink: " + socket.error().message);
        const std::uint32_t first_seq = (*socket)->next_seq();
        auto batches = encode_static_batches(sets, nfproto_from_name(compile::kTableFamily), compile::kTableName,
                                             first_seq);
        std::uint32_t used = 0;
        for (const auto& batch : batches) used += static_cast<std::uint32_t>(batch.messages) + 2;
        if (used > 1) (*socket)->reserve_seqs(used - 1);
        for (const auto& batch : batches) {
            auto outcome = (*socket)->send_batch(batch.bytes, batch.first_message_seq, batch.messages);
            if (!outcome) return fail("writing set elements over netlink: " + outcome.error().message);
            for (std::size_t m = 0; m < outcome->errors.size(); ++m) {
                if (outcome->errors[m] == 0) continue;
                return fail(fmt::format("the kernel refused elements of set {}: {}", batch.message_sets[m],
                                        std::strerror(outcome->errors[m])));
            }
        }
        return {};
    }

    Result<std::string> list_ruleset_text() override {
        Context ctx;
        if (!ctx.ok()) return fail("libnftables: cannot create a context");
        return ctx.run("list ruleset");
    }

private:
    std::unique_ptr<NetlinkSocket> listing_socket_;
    std::map<std::string, std::string> prefetched_;  // "KIND NAME" -> listing, used once

    // nullopt when our table does not exist. A failed `list table` is told apart from an absent
    // table by asking for the table names, so a real error (no permission, no nf_tables) is not
    // mistaken for "absent".
    Result<std::optional<std::string>> list(const std::string& command, unsigned int flags) {
        Context ctx;
        if (!ctx.ok()) return fail("libnftables: cannot create a context");
        ctx.set_output_flags(flags);
        auto listed = ctx.run(command);
        if (listed) return std::optional<std::string>(std::move(*listed));

        Context probe;
        if (!probe.ok()) return fail("libnftables: cannot create a context");
        probe.set_output_flags(NFT_CTX_OUTPUT_JSON);
        auto tables = probe.run(std::string("list tables ") + compile::kTableFamily);
        if (!tables) return fail(listed.error().message);
        auto parsed = nlohmann::json::parse(*tables, nullptr, false);
        if (parsed.is_discarded() || !parsed.contains("nftables")) return fail(listed.error().message);
        for (const auto& item : parsed["nftables"]) {
            if (item.contains("table") && item["table"].value("name", "") == compile::kTableName)
                return fail(listed.error().message);  // it exists, so the listing really failed
        }
        return std::optional<std::string>{};
    }
};

}  // namespace

Result<std::unique_ptr<Nftables>> make_libnftables() {
    Context probe;
    if (!probe.ok()) return fail("libnftables: cannot create a context");
    return std::unique_ptr<Nftables>(std::make_unique<LibNftables>());
}

Result<void> RecordingNftables::run(std::string_view script, RunMode mode) {
    calls.push_back(Call{std::string(script), mode});
    sequence.push_back(mode == RunMode::commit ? "run:commit" : "run:check");
    if (fail_when_script_contains && script.find(*fail_when_script_contains) != std::string_view::npos)
        return fail(failure_message);
    if (mode == RunMode::commit) committed.emplace_back(script);
    return {};
}

Result<void> RecordingNftables::write_set_elements(std::span<const WireSet> sets) {
    element_writes.emplace_back(sets.begin(), sets.end());
    sequence.push_back("elements");
    if (fail_element_writes) return fail(*fail_element_writes);
    return {};
}

Result<std::optional<nlohmann::json>> RecordingNftables::list_table_json(Detail) { return table_json; }

Result<std::optional<std::string>> RecordingNftables::list_table_text(Detail) { return table_text; }

Result<std::string> RecordingNftables::list_ruleset_text() { return ruleset_text; }

Result<std::optional<std::string>> RecordingNftables::list_table_skeleton() { return table_text; }

Result<std::string> RecordingNftables::list_set_text(const std::string&, const std::string& name) {
    auto it = set_texts.find(name);
    if (it == set_texts.end()) return fail("Error: No such file or directory; did you mean set '" + name + "'?");
    return it->second;
}

}  // namespace portcullis::kernel

#pragma once
// Internal to the policy loader: the diagnostics collector and the locations the model itself does
// not keep (where forward_to or allow_from was written), shared by the reader and the cross checks.
#include <string>
#include <vector>

#include "policy/model.hpp"

namespace portcullis::policy::detail {

class Diagnostics {
public:
    explicit Diagnostics(std::string file) : file_(std::move(file)) {}

    Location at(std::uint32_t line, std::uint32_t column) const { return {file_, line, column}; }
    Location nowhere() const { return {file_, 0, 0}; }

    void error(const Location& where, std::string message) {
        items_.push_back({Severity::error, where, std::move(message)});
        ++errors_;
    }
    void warning(const Location& where, std::string message) {
        items_.push_back({Severity::warning, where, std::move(message)});
    }
    std::size_t error_count() const { return errors_; }

    // In file order; diagnostics without a line (file-level) come last.
    std::vector<Diagnostic> sorted() const;

private:
    std::string file_;
    std::vector<Diagnostic> items_;
    std::size_t errors_ = 0;
};

// Where the parts of a service were written, parallel to Policy::services.
struct ServiceNotes {
    Location preset;
    Location forward_to;
    Location allow_from;
    Location guard;  // where guard = "spa" was written (SPA cross-checks point at it)
    std::vector<Location> allow_from_entries;  // parallel to Service::allow_from
};

struct PolicyNotes {
    Location firewall;  // the [firewall] header, or nowhere
    Location lan;
    Location wan_address;
    bool management_present = false;
    std::vector<ServiceNotes> services;
};

// The checks that need the whole policy: overlapping claims, forward_to against mode and address
// families, anti-lockout, exposure warnings.
void check_policy(const Policy& policy, const PolicyNotes& notes, Diagnostics& diagnostics);

}  // namespace portcullis::policy::detail

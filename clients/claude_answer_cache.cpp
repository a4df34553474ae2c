// The vision client's answers: their deep size, their text in the answer store, and the answer
// cache's settings.
#include "clients/claude_answer_cache.hpp"

#include <algorithm>

#include "cache/deep_size.hpp"
#include "clients/claude_answers.hpp"
#include "core/process_token.hpp"

namespace boomer::clients {
namespace {

using std::chrono::milliseconds;

// heap_sizes adds the heap bytes of each of `parts` (cache::heap_size).
template <class... T>
std::size_t heap_sizes(const T&... parts) {
    using cache::heap_size;
    return (heap_size(parts) + ... + std::size_t{0});
}

std::size_t identification_heap(const pipeline::identification& id) {
    std::size_t n = heap_sizes(id.title, id.brand, id.model, id.category, id.condition_guess,
                               id.search_query, id.source, id.category_path, id.color, id.material,
                               id.era, id.distinguishing_marks, id.field_confidence,
                               id.escalation_outcome, id.escalation_reason);
    if (id.price_estimate) {
        n += heap_sizes(id.price_estimate->currency);
    }
    n += id.calls.capacity() * sizeof(pipeline::vision_call);
    for (const auto& c : id.calls) {
        n += heap_sizes(c.model, c.request_id, c.outcome, c.usage.service_tier);
    }
    return n;
}

// How long a replica's claim on a call's answer lasts (see answer_cache_options).
constexpr milliseconds answer_claim{15'000};

}  // namespace

std::size_t heap_size(const model_answer& a) {
    std::size_t n = heap_sizes(a.body, a.paid_by, a.parked_in, a.keep_key, a.record.model,
                               a.record.request_id, a.record.outcome, a.record.usage.service_tier);
    if (a.reply) {
        const auto& r = *a.reply;
        n += heap_sizes(r.id, r.model, r.stop_reason, r.usage.service_tier, r.missing_fields) +
             identification_heap(r.identification);
    }
    if (a.error) {
        n += heap_sizes(a.error->code, a.error->message);
    }
    return n;
}

std::string encode_answer(const model_answer& a) {
    return encode_stored_answer({a.body, a.paid_by});
}

std::optional<model_answer> decode_answer(std::string_view text) {
    auto entry = decode_stored_answer(text);
    if (!entry) {
        return std::nullopt;
    }
    auto reply = parse_messages_reply(entry->body);
    if (!reply) {
        return std::nullopt;
    }
    model_answer out;
    out.record.model = reply->model;
    out.record.usage = reply->usage;
    out.record.confidence = reply->identification.confidence;
    out.record.outcome = "cached";
    out.body = std::move(entry->body);
    out.paid_by = std::move(entry->paid_by);
    out.reply = std::move(*reply);
    return out;
}

bool keepable(const model_answer& a) {
    return a.reply.has_value() && !a.body.empty();
}

cache::tiered_options<model_answer> answer_cache_options(const claude_options& o) {
    cache::tiered_options<model_answer> c;
    c.name = "vision_answers";
    c.memory = o.answer_memory;
    c.ttl = o.answer_ttl;
    c.encode = encode_answer;
    c.decode = decode_answer;
    c.cacheable = keepable;
    // Replicas on one database pay once for identical calls made at the same time: the others
    // wait for the answer the first stores while its claim lasts. The claim covers a usual
    // call (4-8 s) and a retry; a replica killed mid-call holds the others up no longer.
    c.claim_for = std::min(o.stage_deadline, answer_claim);
    // A service restarted after a crash takes its predecessor's claims over at once: its items'
    // calls then go to the call keeper, which holds or finishes what that process paid for.
    c.claim_owner = process_token();
    c.claim_owner_gone = process_gone;
    return c;  // size: deep_size with heap_size(model_answer)
}

}  // namespace boomer::clients

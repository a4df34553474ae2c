// The context fingerprint of a Claude identification.
#include "clients/claude_request_context.hpp"

#include "clients/anthropic_messages.hpp"
#include "core/hash.hpp"

namespace boomer::clients {

identify_call_params identify_params(const claude_options& options, const std::string& model) {
    identify_call_params params;
    params.model = model;
    params.max_tokens = options.max_tokens;
    params.cache_ttl = options.cache_ttl;
    return params;
}

std::string identify_request_context(pipeline::identify_request request,
                                     const claude_options& options) {
    // The bodies are made with the same parameters as claude_vision's calls, photos emptied.
    request.jpeg_images.assign(request.jpeg_images.size(), std::string());
    auto body = [&request, &options](const std::string& model) {
        return build_identify_body(request, identify_params(options, model));
    };

    std::string material(identify_prompt_version);
    material += "\nescalate_below=" + std::to_string(options.escalation_threshold);
    material += "\ncheap=" + body(options.cheap_model);
    material += "\nstrong=";
    if (!options.strong_model.empty()) {
        material += body(options.strong_model);
    }
    return sha256_hex(material);
}

}  // namespace boomer::clients

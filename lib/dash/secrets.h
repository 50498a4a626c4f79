// The secrets ib-dash must never send or log: the RunPod API key and the Hugging Face token,
// wherever the user keeps them (environment, ~/.config/ib/config.yaml, the original tool's
// ~/.llm-inf-bench/config.yaml). LiveHub redacts them from every event and reply.
//   options.hub.secrets = ib::dash::KnownSecrets();
#pragma once

#include <string>
#include <vector>

namespace ib::dash {

// Non-empty values of RUNPOD_API_KEY, HF_TOKEN, HUGGING_FACE_HUB_TOKEN and of the user's
// config files (runpod.api_key, huggingface.token). A malformed config file is skipped.
std::vector<std::string> KnownSecrets();

}  // namespace ib::dash

#include "lib/prompts/prompts.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

namespace ib::prompts {
namespace {

std::string TempFile(const std::string& content) {
  char name[] = "/tmp/ib-prompts-XXXXXX";
  int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  return name;
}

TEST(Prompts, CyclesTheFileLikeTheOriginal) {
  std::string error;
  auto set = LoadPrompts("prompts/baseline.jsonl", 50, &error);
  ASSERT_TRUE(set) << error;
  ASSERT_EQ(set->messages.size(), 50u);
  EXPECT_EQ(set->messages[0], set->messages[25]);  // 25 prompts, each sent twice
  EXPECT_NE(set->messages[0], set->messages[1]);
  EXPECT_EQ(set->messages[0][0]["role"], "user");
}

TEST(Prompts, ErrorsUseTheOriginalWording) {
  std::string error;
  EXPECT_FALSE(LoadPrompts("/nonexistent.jsonl", 1, &error));
  EXPECT_EQ(error, "Prompt file not found: /nonexistent.jsonl");
  std::string bad = TempFile("{\"messages\": [{\"role\":\"user\",\"content\":\"a\"}]}\n\n{oops\n");
  EXPECT_FALSE(LoadPrompts(bad, 1, &error));
  EXPECT_EQ(error, "Invalid JSON on line 3 of " + bad);
  std::string missing = TempFile("{\"prompt\": \"a\"}\n");
  EXPECT_FALSE(LoadPrompts(missing, 1, &error));
  EXPECT_EQ(error, "Missing 'messages' key on line 1 of " + missing);
  std::string empty = TempFile("\n  \n");
  EXPECT_FALSE(LoadPrompts(empty, 1, &error));
  EXPECT_EQ(error, "No prompts found in " + empty);
  std::string not_list = TempFile("{\"messages\": \"hi\"}\n");
  EXPECT_FALSE(LoadPrompts(not_list, 1, &error));
  EXPECT_EQ(error, "'messages' on line 1 of " + not_list + " must be a non-empty list of {role, content} objects");
  for (const auto& f : {bad, missing, empty, not_list}) std::remove(f.c_str());
}

TEST(Prompts, ScriptedConversationsComeFromTheFile) {
  std::string error;
  auto convs = LoadConversations("prompts/multi-turn/scripted.jsonl", 3, 4, std::string("be brief"), std::nullopt, &error);
  ASSERT_TRUE(convs) << error;
  ASSERT_EQ(convs->size(), 3u);
  const auto& c = (*convs)[0];
  ASSERT_EQ(c.initial.size(), 2u);
  EXPECT_EQ(c.initial[0]["role"], "system");
  EXPECT_EQ(c.initial[0]["content"], "be brief");
  EXPECT_EQ(c.initial[1]["content"], "What is Python?");
  ASSERT_EQ(c.follow_ups.size(), 3u);
  EXPECT_EQ(c.follow_ups[0], "How does it handle memory?");
}

TEST(Prompts, MessagesConversationsTakeFollowUpsFromTheConfig) {
  std::string error;
  std::vector<std::string> follow = {"more", "why", "how"};
  auto convs = LoadConversations("prompts/multi-turn/conversations.jsonl", 12, 3, std::nullopt, follow, &error);
  ASSERT_TRUE(convs) << error;
  ASSERT_EQ(convs->size(), 12u);
  EXPECT_EQ((*convs)[0].initial.size(), 1u);  // no system prompt
  EXPECT_EQ((*convs)[5].follow_ups, (std::vector<std::string>{"more", "why"}));
  EXPECT_FALSE(LoadConversations("prompts/multi-turn/conversations.jsonl", 1, 3, std::nullopt, std::nullopt, &error));
  EXPECT_EQ(error, "Messages format requires 'user_messages' in conversation config for follow-up turns");
  std::vector<std::string> one = {"more"};
  EXPECT_FALSE(LoadConversations("prompts/multi-turn/conversations.jsonl", 1, 3, std::nullopt, one, &error));
  EXPECT_EQ(error, "Need at least 2 user_messages for 3 turns, got 1");
  EXPECT_FALSE(LoadConversations("prompts/multi-turn/scripted.jsonl", 1, 99, std::nullopt, std::nullopt, &error));
  EXPECT_NE(error.find("'turns' must have at least 99 entries"), std::string::npos) << error;
}

TEST(Prompts, SharedPrefixComesBeforeEveryConversationsSystemPrompt) {
  std::string error;
  const std::string prefix = "You are the support agent of ACME. Policies: refunds within 30 days. ";
  auto convs = LoadConversations("prompts/multi-turn/scripted.jsonl", 4, 2, std::string("be brief"), std::nullopt, &error,
                                 prefix);
  ASSERT_TRUE(convs) << error;
  for (const auto& c : *convs) {
    ASSERT_EQ(c.initial.size(), 2u);
    EXPECT_EQ(c.initial[0]["role"], "system");
    EXPECT_EQ(c.initial[0]["content"], prefix + "be brief");
  }
  // Without a system prompt the prefix is the system message; without either there is none.
  convs = LoadConversations("prompts/multi-turn/scripted.jsonl", 1, 2, std::nullopt, std::nullopt, &error, prefix);
  ASSERT_TRUE(convs) << error;
  EXPECT_EQ((*convs)[0].initial[0], (nlohmann::json{{"role", "system"}, {"content", prefix}}));
  EXPECT_EQ(SystemMessages(std::nullopt, std::nullopt), nlohmann::json::array());
  EXPECT_EQ(SystemMessages(std::string(""), std::string("")), nlohmann::json::array());
}

}  // namespace
}  // namespace ib::prompts

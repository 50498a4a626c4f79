#include "lib/appconfig/appconfig.h"
#include "lib/appconfig/commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace ib::appconfig {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Each test gets a fresh HOME so nothing touches the real user's files.
class AppConfigTest : public testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    home_ = std::string(tmp ? tmp : "/tmp") + "/home-" +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    ::mkdir(home_.c_str(), 0700);
    setenv("HOME", home_.c_str(), 1);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("RUNPOD_API_KEY");
    unsetenv("HF_TOKEN");
    unsetenv("HUGGING_FACE_HUB_TOKEN");
  }
  std::string home_;
};

TEST_F(AppConfigTest, PathsFollowHomeAndXdg) {
  EXPECT_EQ(ConfigPath(), home_ + "/.config/ib/config.yaml");
  EXPECT_EQ(LegacyConfigPath(), home_ + "/.llm-inf-bench/config.yaml");
  setenv("XDG_CONFIG_HOME", "/x/y", 1);
  EXPECT_EQ(ConfigPath(), "/x/y/ib/config.yaml");
}

TEST_F(AppConfigTest, NoFilesGiveDefaultsAndAHelpfulKeyError) {
  std::string error;
  auto config = Load(&error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->loaded_from, "");
  EXPECT_EQ(config->output_dir, "./results");
  EXPECT_FALSE(ResolveApiKey(&error));
  EXPECT_NE(error.find("No RunPod API key found"), std::string::npos);
  EXPECT_NE(error.find("RUNPOD_API_KEY"), std::string::npos);
}

TEST_F(AppConfigTest, EnvWinsOverFile) {
  std::string error;
  ASSERT_TRUE(Set("runpod.api_key", "from-file-1234", &error)) << error;
  auto key = ResolveApiKey(&error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(key->value, "from-file-1234");
  EXPECT_EQ(key->source, ConfigPath());
  setenv("RUNPOD_API_KEY", "from-env", 1);
  key = ResolveApiKey(&error);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->value, "from-env");
  EXPECT_EQ(key->source, "env RUNPOD_API_KEY");
}

TEST_F(AppConfigTest, LegacyFileIsAFallback) {
  ::mkdir((home_ + "/.llm-inf-bench").c_str(), 0700);
  WriteFile(LegacyConfigPath(), "runpod:\n  api_key: legacy-key\ndefaults:\n  output_dir: ./out\n");
  std::string error;
  auto key = ResolveApiKey(&error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(key->value, "legacy-key");
  EXPECT_EQ(key->source, LegacyConfigPath());
  // Once ib's own file exists it is the one read.
  ASSERT_TRUE(Set("runpod.api_key", "new-key", &error)) << error;
  EXPECT_EQ(ResolveApiKey(&error)->value, "new-key");
}

TEST_F(AppConfigTest, InitCreatesAPrivateFileOnceAndNeverOverwrites) {
  bool created = false;
  std::string error;
  ASSERT_TRUE(Init(&created, &error)) << error;
  EXPECT_TRUE(created);
  struct stat st{};
  ASSERT_EQ(::stat(ConfigPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(PermissionWarning(ConfigPath()), "");
  ASSERT_TRUE(Set("runpod.api_key", "abc", &error));
  ASSERT_TRUE(Init(&created, &error));
  EXPECT_FALSE(created);
  EXPECT_EQ(Load(&error)->runpod_api_key, "abc");
  // The file from init has empty values, which do not count as a key.
  EXPECT_TRUE(Set("runpod.api_key", "", &error));
  EXPECT_FALSE(ResolveApiKey(&error));
}

TEST_F(AppConfigTest, SetKeepsOtherKeysAndTheModeEvenIfChmodded) {
  std::string error;
  ASSERT_TRUE(Set("hf_token", "hf_secret", &error)) << error;
  ::chmod(ConfigPath().c_str(), 0644);
  EXPECT_NE(PermissionWarning(ConfigPath()).find("chmod 600"), std::string::npos);
  ASSERT_TRUE(Set("runpod.api_key", "rp", &error)) << error;
  struct stat st{};
  ASSERT_EQ(::stat(ConfigPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto config = Load(&error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->hf_token, "hf_secret");
  EXPECT_EQ(config->runpod_api_key, "rp");
  auto token = ResolveHfToken(&error);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->value, "hf_secret");
  setenv("HUGGING_FACE_HUB_TOKEN", "hub", 1);
  EXPECT_EQ(ResolveHfToken(&error)->value, "hub");
  setenv("HF_TOKEN", "hf", 1);
  EXPECT_EQ(ResolveHfToken(&error)->value, "hf");
}

TEST_F(AppConfigTest, NoHfTokenIsNotAnError) {
  std::string error;
  EXPECT_FALSE(ResolveHfToken(&error));
  EXPECT_EQ(error, "");
}

TEST_F(AppConfigTest, UnknownKeyIsRejectedWithTheList) {
  std::string error;
  EXPECT_FALSE(Set("runpod.apikey", "x", &error));
  EXPECT_NE(error.find("unknown key 'runpod.apikey'"), std::string::npos);
  EXPECT_NE(error.find("runpod.api_key"), std::string::npos);
}

TEST_F(AppConfigTest, MalformedFilesAreClearErrors) {
  ::mkdir((home_ + "/.config").c_str(), 0700);
  ::mkdir(ConfigDir().c_str(), 0700);
  std::string error;
  WriteFile(ConfigPath(), "runpod: [unclosed\n");
  EXPECT_FALSE(Load(&error));
  EXPECT_NE(error.find(ConfigPath()), std::string::npos);
  EXPECT_FALSE(Set("runpod.api_key", "x", &error));
  EXPECT_NE(error.find("fix or remove"), std::string::npos);
  WriteFile(ConfigPath(), "- a\n- b\n");
  EXPECT_FALSE(Load(&error));
  EXPECT_NE(error.find("expected a YAML mapping"), std::string::npos);
  WriteFile(ConfigPath(), "runpod:\n  api_key: [1, 2]\n");
  EXPECT_FALSE(ResolveApiKey(&error));
  EXPECT_NE(error.find("'runpod.api_key' must be a string"), std::string::npos);
  WriteFile(ConfigPath(), "runpod: 3\n");
  EXPECT_FALSE(Load(&error));
  EXPECT_NE(error.find("'runpod' must be a mapping"), std::string::npos);
  WriteFile(ConfigPath(), "");
  EXPECT_TRUE(Load(&error));
}

TEST_F(AppConfigTest, RedactShowsNoCharacterOfTheSecret) {
  EXPECT_EQ(Redact(""), "(empty)");
  EXPECT_EQ(Redact("short"), "(hidden, 5 characters)");
  EXPECT_EQ(Redact("rpa_ABCDEFGHIJKL1234"), "(hidden, 20 characters)");
}

TEST_F(AppConfigTest, InitAndConfigSetCommands) {
  unsetenv("RUNPOD_API_KEY");
  std::ostringstream out, err;
  EXPECT_EQ(CmdInit(out, err), 0);
  EXPECT_NE(out.str().find("Created " + ConfigPath()), std::string::npos) << out.str();
  std::ostringstream out2;
  EXPECT_EQ(CmdInit(out2, err), 0);
  EXPECT_NE(out2.str().find("Config already exists"), std::string::npos);
  std::ostringstream out3;
  EXPECT_EQ(CmdConfigSet("runpod.api_key", "test-key-abcdef-1234", out3, err), 0);
  // Never any part of the key (README: never printed), not even its last characters.
  for (const char* part : {"abcdef", "1234", "test-key"}) {
    EXPECT_EQ(out3.str().find(part), std::string::npos) << out3.str();
  }
  EXPECT_NE(out3.str().find("(hidden, 20 characters)"), std::string::npos) << out3.str();
  std::ostringstream out4, err4;
  EXPECT_EQ(CmdConfigSet("nope", "x", out4, err4), 2);
  EXPECT_NE(err4.str().find("ib-run: error: unknown key 'nope'"), std::string::npos) << err4.str();
}

}  // namespace
}  // namespace ib::appconfig

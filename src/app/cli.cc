#include "app/cli.h"

#include <pthread.h>
#include <signal.h>

#include "app/flags.h"

namespace cryptolake::app {

int RunWithEnv(const GlobalOptions& g, const EnvNeeds& needs, const std::function<int(Env&)>& run) {
  auto config = ResolveConfig(g);
  if (!config.ok()) return Fail(config.status());
  // Outputs never go inside the lake's folder, but under forecasts/.
  for (const auto& [flag, path] : needs.outputs) {
    if (path.empty()) continue;
    if (Status s = CheckOutputPath(flag, path, config->data_root); !s.ok()) return UsageFail(s);
  }
  auto env = OpenEnv(*std::move(config), needs.lake);
  if (!env.ok()) return Fail(env.status());
  return run(**env);
}

void BlockStopSignals() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
}

CLI::Validator DutyCheck() { return flags::Number(0.01, false, 1, false, "a share of wall time"); }

}  // namespace cryptolake::app

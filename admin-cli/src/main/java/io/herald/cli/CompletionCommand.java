package io.herald.cli;

import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "completion", mixinStandardHelpOptions = true, description = "Print a shell completion script.",
    footer = {"", "Examples:", "  source <(herald completion bash)", "  herald completion zsh > \"${fpath[1]}/_herald\""})
final class CompletionCommand implements Callable<Integer> {
  enum Shell { bash, zsh }

  @Spec CommandLine.Model.CommandSpec spec;
  @Parameters(paramLabel = "SHELL", description = "${COMPLETION-CANDIDATES}") Shell shell;

  @Override
  public Integer call() {
    String script = AutoComplete.bash("herald", spec.root().commandLine());
    if (shell == Shell.zsh) {
      script = "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n" + script;
    }
    spec.commandLine().getOut().print(script);
    spec.commandLine().getOut().flush();
    return Main.OK;
  }
}

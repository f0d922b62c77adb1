package io.herald.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;

@Command(name = "version", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class, description = "Print the CLI's version.")
final class VersionCommand implements Callable<Integer> {
  static final String VERSION = "0.1.0";

  @Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    for (String line : new Provider().getVersion()) {
      spec.commandLine().getOut().println(line);
    }
    spec.commandLine().getOut().flush();
    return Main.OK;
  }

  static final class Provider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"herald " + VERSION + " (API herald.v1, Java " + Runtime.version() + ")"};
    }
  }
}

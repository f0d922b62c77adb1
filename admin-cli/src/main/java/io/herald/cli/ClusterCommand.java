package io.herald.cli;

import io.herald.client.HeraldClient;
import io.herald.client.internal.Errors;
import io.herald.proto.v1.ClusterNode;
import io.herald.proto.v1.GetClusterStatusRequest;
import io.herald.proto.v1.GetClusterStatusResponse;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;

@Command(name = "cluster", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class,
    description = "Inspect the cluster.", subcommands = {ClusterCommand.Status.class, CommandLine.HelpCommand.class})
final class ClusterCommand {

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = {"Every node with its id, address, role (leader/follower/candidate/listener), liveness and the topics it owns;"
          + " the metadata leader and term, as the node answering sees them. A standalone broker is a cluster of one.",
          "", "Examples:", "  herald cluster status", "  herald --server 127.0.0.1:7170 cluster status -o json"})
  static final class Status implements Callable<Integer> {
    @Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      Connection conn = Connection.of(spec);
      GetClusterStatusResponse r;
      try (HeraldClient client = conn.client()) {
        r = Connection.admin(client).getClusterStatus(GetClusterStatusRequest.getDefaultInstance());
      } catch (RuntimeException e) {
        throw Errors.from(e);
      }
      PrintWriter out = spec.commandLine().getOut();
      if (conn.json()) {
        out.println(Json.of(r));
        out.flush();
        return Main.OK;
      }
      out.println("leader: " + (r.getLeaderId().isEmpty() ? "(none: election in progress)" : r.getLeaderId()) + "   term: " + r.getTerm()
          + "   answered by: " + r.getAnsweredBy());
      Table t = new Table("NODE", "ADDRESS", "ROLE", "ALIVE", "TOPICS");
      for (ClusterNode n : r.getNodesList()) {
        t.row(n.getNodeId(), n.getAddress().isEmpty() ? "-" : n.getAddress(), n.getRole(),
            n.getAlive() ? (n.getDraining() ? "draining" : "yes") : "no", n.getTopicsOwned());
      }
      t.print(out);
      return Main.OK;
    }
  }
}

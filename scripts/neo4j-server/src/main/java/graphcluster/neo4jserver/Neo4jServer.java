package graphcluster.neo4jserver;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;
import org.neo4j.io.ByteUnit;

/**
 * A long-running Neo4j 5.26 Community server built from the official test harness.
 *
 * <p>Steps: read the settings from the environment; build the server with Bolt and HTTP on
 * fixed loopback ports, auth disabled, a persistent home directory and an explicit page cache;
 * print one {@code READY} line that scripts/neo4j waits for; block until the JVM is asked to
 * stop (SIGTERM or SIGINT), when a shutdown hook closes the databases cleanly.
 *
 * <p>Environment (scripts/neo4j sets all of them): {@code NEO4J_HOME_DIR} (persistent home,
 * the store lives in its {@code data/}), {@code NEO4J_BOLT_PORT} (7687), {@code NEO4J_HTTP_PORT}
 * (7474), {@code NEO4J_PAGECACHE} (page cache in MiB, 512).
 */
public final class Neo4jServer {
    private static final String HOST = "127.0.0.1";

    private Neo4jServer() {}

    public static void main(String[] args) throws Exception {
        try {
            run();
        } catch (Exception e) {
            // Non-daemon threads of a half-started server would keep the JVM alive; the
            // launcher must see a dead process and the cause in the log instead.
            System.out.println("graphcluster-neo4j: FAILED " + e);
            e.printStackTrace(System.out);
            System.out.flush();
            Runtime.getRuntime().halt(1);
        }
    }

    private static void run() throws Exception {
        Path home = Path.of(env("NEO4J_HOME_DIR", "var/neo4j")).toAbsolutePath();
        int boltPort = Integer.parseInt(env("NEO4J_BOLT_PORT", "7687"));
        int httpPort = Integer.parseInt(env("NEO4J_HTTP_PORT", "7474"));
        long pageCacheMib = Long.parseLong(env("NEO4J_PAGECACHE", "512"));

        // The harness always runs in a fresh random sub-folder of the folder it is given and
        // deletes that folder on close. Only its scratch files and logs go there: neo4j_home
        // (and with it data/ and transactions/) points at the persistent home instead.
        Path scratch = home.resolve("run");
        Files.createDirectories(scratch);

        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(scratch)
                .withConfig(GraphDatabaseSettings.neo4j_home, home)
                .withConfig(GraphDatabaseSettings.data_directory, home.resolve("data"))
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
                .withConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMib))
                // Nothing may listen beyond loopback, and a second checkout's server must not
                // collide with this one on a port we did not choose.
                .withConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress(HOST))
                .withConfig(GraphDatabaseSettings.routing_enabled, false)
                .withConfig(GraphDatabaseSettings.udc_enabled, false)
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress(HOST, boltPort))
                .withConfig(BoltConnector.advertised_address, new SocketAddress(HOST, boltPort))
                .withConfig(HttpConnector.enabled, true)
                .withConfig(HttpConnector.listen_address, new SocketAddress(HOST, httpPort))
                .withConfig(HttpConnector.advertised_address, new SocketAddress(HOST, httpPort))
                .withConfig(HttpsConnector.enabled, false)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("graphcluster-neo4j: stopping");
            System.out.flush();
            try {
                neo4j.close();
            } finally {
                System.out.println("graphcluster-neo4j: stopped cleanly");
                System.out.flush();
                stopped.countDown();
            }
        }, "graphcluster-neo4j-shutdown"));

        System.out.println("graphcluster-neo4j: READY bolt=" + neo4j.boltURI() + " http=" + neo4j.httpURI()
                + " home=" + home);
        System.out.flush();
        stopped.await();
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value;
    }
}

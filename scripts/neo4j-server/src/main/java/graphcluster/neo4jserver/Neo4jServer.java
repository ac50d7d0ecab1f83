package graphcluster.neo4jserver;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.Config;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.graphdb.QueryExecutionException;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;
import org.neo4j.io.ByteUnit;
import org.neo4j.io.fs.DefaultFileSystemAbstraction;
import org.neo4j.io.fs.FileSystemAbstraction;
import org.neo4j.kernel.impl.security.User;
import org.neo4j.logging.NullLogProvider;
import org.neo4j.memory.EmptyMemoryTracker;
import org.neo4j.server.security.SecureHasher;
import org.neo4j.server.security.SystemGraphCredential;
import org.neo4j.server.security.auth.CommunitySecurityModule;
import org.neo4j.server.security.auth.FileUserRepository;

/**
 * A long-running Neo4j 5.26 Community server built from the official test harness.
 *
 * <p>Steps: read the settings from the environment; with auth on, make the password of the
 * file {@code NEO4J_PASSWORD_FILE} the one of user {@code neo4j} (see {@link #provisionPassword}
 * and {@link #enforcePassword}); build the server with Bolt and HTTP on fixed loopback ports, a
 * persistent home directory and an explicit page cache; print one {@code READY} line that
 * scripts/neo4j waits for; block until the JVM is asked to stop (SIGTERM or SIGINT), when a
 * shutdown hook closes the databases cleanly. The password is never printed.
 *
 * <p>Environment (scripts/neo4j sets all of them): {@code NEO4J_HOME_DIR} (persistent home,
 * the store lives in its {@code data/}), {@code NEO4J_BOLT_PORT} (7687), {@code NEO4J_HTTP_PORT}
 * (7474), {@code NEO4J_PAGECACHE} (page cache in MiB, 512), {@code NEO4J_AUTH_ENABLED}
 * ({@code true}; {@code false} for a server without auth), {@code NEO4J_PASSWORD_FILE} (the
 * file holding the password of user {@code neo4j}; required with auth on).
 */
public final class Neo4jServer {
    private static final String HOST = "127.0.0.1";
    private static final String USER = "neo4j";

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
        boolean authEnabled = !"false".equalsIgnoreCase(env("NEO4J_AUTH_ENABLED", "true"));
        String password = authEnabled ? readPassword(env("NEO4J_PASSWORD_FILE", "")) : null;
        Path data = home.resolve("data");
        if (authEnabled) {
            provisionPassword(home, data, password);
        }

        // The harness always runs in a fresh random sub-folder of the folder it is given and
        // deletes that folder on close. Only its scratch files and logs go there: neo4j_home
        // (and with it data/ and transactions/) points at the persistent home instead.
        Path scratch = home.resolve("run");
        Files.createDirectories(scratch);

        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(scratch)
                .withConfig(GraphDatabaseSettings.neo4j_home, home)
                .withConfig(GraphDatabaseSettings.data_directory, data)
                .withConfig(GraphDatabaseSettings.auth_enabled, authEnabled)
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
        if (authEnabled) {
            enforcePassword(neo4j, password);
        }
        // Read once, when the system database was created; the password hash need not stay around.
        Files.deleteIfExists(initialUserFile(home, data));

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
                + " home=" + home + " auth=" + (authEnabled ? "on" : "off"));
        System.out.flush();
        stopped.await();
    }

    /** The first line of {@code file}, trimmed; an error names the file, never its content. */
    private static String readPassword(String file) throws Exception {
        if (file.isBlank()) {
            throw new IllegalStateException("auth is on but NEO4J_PASSWORD_FILE is not set");
        }
        String text = Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
        int newline = text.indexOf('\n');
        String password = newline < 0 ? text : text.substring(0, newline).strip();
        if (password.length() < 8) {
            throw new IllegalStateException("the password in " + file + " is shorter than Neo4j's minimum of 8 characters");
        }
        return password;
    }

    /**
     * On a store that has no system database yet, writes the initial-user file that Neo4j reads
     * when it creates one ({@code data/dbms/auth.ini}, what {@code neo4j-admin dbms
     * set-initial-password} writes), so user {@code neo4j} has the password from its very first
     * moment and never the well-known default.
     */
    private static void provisionPassword(Path home, Path data, String password) throws Exception {
        if (Files.exists(data.resolve("databases").resolve("system"))) {
            return;
        }
        Path file = initialUserFile(home, data);
        try (FileSystemAbstraction fs = new DefaultFileSystemAbstraction()) {
            fs.mkdirs(file.getParent());
            if (fs.fileExists(file)) {
                fs.deleteFile(file);
            }
            FileUserRepository users = new FileUserRepository(fs, file, NullLogProvider.getInstance(), EmptyMemoryTracker.INSTANCE);
            users.start();
            users.create(new User(USER, null,
                    SystemGraphCredential.createCredentialForPassword(password.getBytes(StandardCharsets.UTF_8), new SecureHasher()),
                    false, false));
            users.shutdown();
        }
    }

    /** Where Neo4j looks for the initial-user file; it is deleted once the system database exists. */
    private static Path initialUserFile(Path home, Path data) {
        Config config = Config.newBuilder()
                .set(GraphDatabaseSettings.neo4j_home, home)
                .set(GraphDatabaseSettings.data_directory, data)
                .build();
        return CommunitySecurityModule.getInitialUserRepositoryFile(config);
    }

    /**
     * Sets the password of user {@code neo4j} to the file's on a store that already existed
     * (created without auth, or the file was replaced): the file is the one source of truth.
     * Runs through the embedded API (full rights, nothing logged with the password, which is a
     * parameter); "the same password" is Neo4j's refusal when nothing needs to change.
     */
    private static void enforcePassword(Neo4j neo4j, String password) {
        try {
            neo4j.databaseManagementService().database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                    "ALTER USER " + USER + " SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
        } catch (QueryExecutionException e) {
            if (e.getMessage() == null || !e.getMessage().contains("Old password and new password cannot be the same")) {
                throw e;
            }
        }
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value;
    }
}

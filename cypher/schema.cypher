// graphcluster schema for Neo4j 5 (applied on every connect; every statement is idempotent).
//
// Data model (docs/architecture.md):
//   (:Face {id, dim, source, image, bbox, quality, batch, created_at, embedding?})
//   (:Face)-[:SIMILAR {distance, weight}]->(:Face)
//   (:Face)-[:MUST_LINK|CANNOT_LINK {id, by, at, reason}]->(:Face)
//   (:Face)-[:IN_CLUSTER {confidence, status, at}]->(:Cluster {id, size, locked, name, created_at, updated_at})
//   (:Review {id, kind, status, priority, created_at})-[:ABOUT {role}]->(:Face|:Cluster)
//   (:Decision {id, kind, a, b, by, at, reason, undone})
//   (:Meta {key, value})
//   (:Lease {name, holder, token, expires_at})   the writers' lease (index='neo4j', docs/neo4j.md)
//
// Format: one statement per `;`, whole-line `//` comments only
// (graphcluster.cypher_files.schema_statements() splits it).

// --- Identity: every id is the caller's (or the store's) stable key. A uniqueness constraint
// --- also gives the index that every `MATCH (:Face {id: ...})` / `MERGE` lookup uses.
CREATE CONSTRAINT face_id IF NOT EXISTS FOR (f:Face) REQUIRE f.id IS UNIQUE;
CREATE CONSTRAINT cluster_id IF NOT EXISTS FOR (c:Cluster) REQUIRE c.id IS UNIQUE;
CREATE CONSTRAINT review_id IF NOT EXISTS FOR (r:Review) REQUIRE r.id IS UNIQUE;
CREATE CONSTRAINT decision_id IF NOT EXISTS FOR (d:Decision) REQUIRE d.id IS UNIQUE;
CREATE CONSTRAINT meta_key IF NOT EXISTS FOR (m:Meta) REQUIRE m.key IS UNIQUE;
CREATE CONSTRAINT lease_name IF NOT EXISTS FOR (l:Lease) REQUIRE l.name IS UNIQUE;

// --- Faces: "all faces of this photo" (same-photo cannot-links, co-occurrence) and
// --- "everything of batch N" (re-ingest, audit).
CREATE INDEX face_image IF NOT EXISTS FOR (f:Face) ON (f.image);
CREATE INDEX face_batch IF NOT EXISTS FOR (f:Face) ON (f.batch);

// --- Clusters: investigators address a person by name; locked (verified) clusters are
// --- listed apart; "what changed since" scans updated_at as a range.
CREATE INDEX cluster_name IF NOT EXISTS FOR (c:Cluster) ON (c.name);
CREATE INDEX cluster_locked IF NOT EXISTS FOR (c:Cluster) ON (c.locked);
CREATE INDEX cluster_updated_at IF NOT EXISTS FOR (c:Cluster) ON (c.updated_at);
// --- The people list pages through clusters by size.
CREATE INDEX cluster_size IF NOT EXISTS FOR (c:Cluster) ON (c.size);

// --- The review queue reads open items only.
CREATE INDEX review_status IF NOT EXISTS FOR (r:Review) ON (r.status);
// ... and each kind's best of them (the queue weighs the kinds by how their answers went).
CREATE INDEX review_status_kind IF NOT EXISTS FOR (r:Review) ON (r.status, r.kind);
// An answer looks up the open items about the clusters it changed (open_reviews_about.cypher).
CREATE INDEX review_cluster_a IF NOT EXISTS FOR (r:Review) ON (r.cluster_a);
CREATE INDEX review_cluster_b IF NOT EXISTS FOR (r:Review) ON (r.cluster_b);

// --- Decisions are looked up by the faces or clusters they name (audit trail, undo).
CREATE INDEX decision_a IF NOT EXISTS FOR (d:Decision) ON (d.a);
CREATE INDEX decision_b IF NOT EXISTS FOR (d:Decision) ON (d.b);

// --- Tentative memberships (status 'review') are found without walking every face.
CREATE INDEX in_cluster_status IF NOT EXISTS FOR ()-[m:IN_CLUSTER]-() ON (m.status);

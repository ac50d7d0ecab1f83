// Store.add_decision: upsert the Decision node (the audit trail) and drop its typed link, re-created after if active.
MERGE (d:Decision {id: $row.id})
SET d += $row
WITH d
OPTIONAL MATCH (:Face {id: d.a})-[r:MUST_LINK|CANNOT_LINK {id: d.id}]->(:Face {id: d.b})
DELETE r

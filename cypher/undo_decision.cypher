// Store.undo_decision: mark undone (kept in the audit trail) and delete the typed link.
MATCH (d:Decision {id: $id})
SET d.undone = true
WITH d
OPTIONAL MATCH (:Face {id: d.a})-[r:MUST_LINK|CANNOT_LINK {id: d.id}]->(:Face {id: d.b})
DELETE r
RETURN DISTINCT d.id AS id

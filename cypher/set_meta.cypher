// Store.set_meta: upsert values (JSON text).
UNWIND $rows AS row
MERGE (m:Meta {key: row.key})
SET m.value = row.value

// Store.set_review_status: status and answer of the items in $ids (the caller checked they exist).
UNWIND $ids AS id
MATCH (r:Review {id: id})
SET r.status = $status, r.answer = $answer

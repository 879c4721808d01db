-- A batch's finishing time is derived from its organizations' states when it
-- is read; the column was never written.
ALTER TABLE batches DROP COLUMN finished_at;

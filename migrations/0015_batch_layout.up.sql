-- 0015_batch_layout: how the uploaded sheet was laid out, so that its
-- results file lays it out again: every merged range the sheet declared
-- (A1 references such as "J3:J5", title rows, header and data alike) and
-- every hidden row (1-based row numbers, ascending). Batches imported before
-- this migration have neither: their results files merge and hide nothing.
--
-- Never edit this file once applied anywhere: add a new NNNN_name.up.sql.

ALTER TABLE batches
    ADD COLUMN merges      jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN hidden_rows jsonb NOT NULL DEFAULT '[]'::jsonb;

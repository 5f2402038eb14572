-- Who proposed a change, as authenticated (admin token name, or approver id after OIDC sign-in);
-- `author` is the label the proposer gave. The four-eyes rule compares this with the approver.
ALTER TABLE {db}.proposals ADD COLUMN IF NOT EXISTS proposed_by String DEFAULT '' AFTER author;

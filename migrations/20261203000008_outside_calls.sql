-- Calls with a party outside this Switchboard: someone calling one of our numbers, or
-- called from one. Such a call has one leg here (in its owner's call log); `outside` is the
-- other party's number. In the sandbox the admin's Simulator plays that party; carrier
-- calls will take the same path with the carrier holding them. NULL: a call between two
-- people here.
ALTER TABLE call_sessions ADD COLUMN outside TEXT;
CREATE INDEX call_sessions_outside ON call_sessions (outside, created_at);

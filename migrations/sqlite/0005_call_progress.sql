-- Call milestones written while the call is up (ring, answer, live flag, agent, connect are
-- already columns of attempts; from now on they are filled as they happen, not only when the
-- call ends), and the SIP dialog state of the legs that were answered, so that recovery after a
-- crash can close a call with what it reached and send BYE on every leg that was up. The dialog
-- columns hold the SIP layer's JSON snapshot; NULL once not needed (the attempt is closed).
ALTER TABLE attempts ADD COLUMN customer_dialog TEXT;
ALTER TABLE attempts ADD COLUMN agent_dialog TEXT;

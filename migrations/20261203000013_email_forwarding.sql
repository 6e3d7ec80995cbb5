-- Inbound texts forwarded by email, per number ('' = not forwarded). The SMTP server an
-- admin configures lives in instance_settings ('smtp', its password sealed).
ALTER TABLE phone_numbers ADD COLUMN forward_email TEXT NOT NULL DEFAULT '';

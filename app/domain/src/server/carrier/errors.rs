//! Carrier error codes in plain words: what happened and what to do.

/// A sentence for people, from a carrier's error code (Telnyx or Twilio) or our own.
pub fn explain(code: &str) -> String {
    let text = match code {
        // Telnyx
        "40300" => "The recipient has opted out (replied STOP). They must text START to this number before you can message them again.",
        "40001" | "40002" => "The number you sent to isn't a valid mobile number. Check it and try again.",
        "40008" => "The recipient's carrier doesn't accept texts for this number (it may be a landline).",
        "40010" => "This number isn't registered for business texting (10DLC) yet. Ask your admin to finish the registration.",
        "40012" | "40013" => "The message was rejected as spam by the recipient's carrier. Rephrase it and try again.",
        "40014" => "The message expired before it could be delivered. Try again later.",
        "40305" => "This number can't send texts yet. Check its messaging setup in Numbers.",
        // Twilio
        "21610" => "The recipient has unsubscribed (replied STOP). They must reply START before you can message them again.",
        "21211" | "21614" => "The number you sent to isn't a valid mobile number. Check it and try again.",
        "30003" => "The recipient's phone is unreachable (off or out of coverage). Try again later.",
        "30004" => "The recipient has blocked messages from this number.",
        "30005" => "The number you sent to doesn't exist or is no longer in service.",
        "30006" => "The number can't receive texts (it's a landline or unreachable carrier).",
        "30007" => "The recipient's carrier filtered the message as spam. Rephrase it and try again.",
        "30008" => "The message couldn't be delivered for an unknown reason. Try again later.",
        "30034" => "This number isn't registered for US business texting (A2P 10DLC). Ask your admin to register it.",
        // Ours
        "opted-out" => "Not sent: the recipient opted out (replied STOP) before it left. They must text START to this number first.",
        "unreachable" => "We couldn't reach the carrier after several tries. Try sending again.",
        "maybe-sent" => "May have been sent: the carrier took it but never confirmed. Check with the recipient before sending again.",
        "internal" => "Something went wrong on this Switchboard while sending. Try sending again.",
        _ => return format!("The carrier couldn't deliver this message (error {code})."),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_and_unknown_codes() {
        assert!(super::explain("40300").contains("STOP"));
        assert!(super::explain("21610").contains("START"));
        assert!(super::explain("30034").contains("10DLC"));
        assert_eq!(
            super::explain("999"),
            "The carrier couldn't deliver this message (error 999)."
        );
    }
}

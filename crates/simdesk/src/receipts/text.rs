//! A receipt as plain text for a terminal, in the receipt's language.

use super::labels::{issued_jst, plan_text, Labels};
use super::SignedReceipt;

/// Makes a value safe to print on a terminal: control characters (which could
/// move the cursor or change colours) are shown escaped.
fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The receipt as plain text for a terminal, labelled in the receipt's
/// language. Control characters in values are shown escaped.
pub fn render_text(signed: &SignedReceipt) -> String {
    let r = &signed.receipt;
    let l = Labels::for_tag(&r.language);
    let c = clean_text;
    let mut t = String::with_capacity(2048);
    let field = |t: &mut String, label: &str, value: &str| {
        t.push_str(&format!("{label}: {}\n", c(value)));
    };

    t.push_str(&l.title);
    t.push('\n');
    t.push_str(&"=".repeat(40));
    t.push('\n');
    field(&mut t, &l.number, &r.number);
    field(&mut t, &l.carrier, &r.carrier);
    field(&mut t, &l.effective_date, &r.effective_date.to_string());
    field(&mut t, &l.issued, &issued_jst(r.issued_at));
    if let Some(until) = r.usage_counted_until {
        field(&mut t, &l.usage_counted_until, &issued_jst(until));
    }
    field(&mut t, &l.request, &r.request_id.to_string());
    field(&mut t, &l.channel, &l.channel_name(&r.channel));
    field(&mut t, &l.customer, &r.customer);
    field(&mut t, &l.policy_version, &r.policy_version.to_string());

    t.push_str(&format!("\n{}\n", l.line));
    field(&mut t, &format!("  {}", l.iccid), &r.line.iccid);
    field(&mut t, &format!("  {}", l.msisdn), &r.line.msisdn);
    field(&mut t, &format!("  {}", l.plan), &plan_text(&r.line));

    t.push_str(&format!("\n{}\n", l.addons_unbound));
    if r.unbound_addons.is_empty() {
        t.push_str(&format!("  {}\n", l.none));
    }
    for addon in &r.unbound_addons {
        t.push_str(&format!("  - {} [{}]\n", c(&addon.name), c(&addon.code)));
    }

    t.push_str(&format!("\n{}\n", l.refund));
    field(
        &mut t,
        &format!("  {}", l.refund_rule),
        &l.rule_name(&r.refund.rule),
    );
    t.push_str(&format!("  {}\n", l.refund_items));
    if r.refund.items.is_empty() {
        t.push_str(&format!("    {}\n", l.none));
    }
    for item in &r.refund.items {
        t.push_str(&format!("    {}: {}\n", c(&item.label), item.amount));
    }
    t.push_str(&format!("  {}: {}\n", l.total, r.refund.total));
    field(
        &mut t,
        &format!("  {}", l.credited_to),
        &l.credited_name(&r.refund.credited_to),
    );

    t.push('\n');
    t.push_str(&"-".repeat(40));
    t.push('\n');
    field(&mut t, &l.key_id, &signed.key_id);
    field(&mut t, &l.signature, &signed.signature);
    t.push_str(&l.verify);
    t.push('\n');
    t
}

# simdesk notifications to travellers — English (the reference for every other language).
# For each event: one SMS, one e-mail subject and one plain-text e-mail body.
# Placeholders arrive already formatted. Never add the traveller's name or passport number.

## registration: $msisdn, $plan

registration-sms = simdesk: line { $msisdn } ({ $plan }) is registered to you and your identity check is complete. We will text you once it is active.
registration-subject = Your travel SIM { $msisdn } is registered
registration-body =
    Thank you for choosing simdesk.

    Your line { $msisdn } on the { $plan } plan is now registered to you, and the identity check required by Japanese law is complete.

    We will let you know as soon as the line is active and until when you can use it.

    If you did not ask for this line, please contact the simdesk hotline or a simdesk store.

    — simdesk Customer Desk

## activation: $msisdn, $valid_until

activation-sms = simdesk: your line { $msisdn } is active and valid until { $valid_until } (Japan time). Enjoy your trip!
activation-subject = Your line { $msisdn } is active
activation-body =
    Your line { $msisdn } is now active and ready to use.

    It is valid until { $valid_until } (Japan time). We will remind you before it expires.

    To check your balance and validity at any time, reply BAL to any text from simdesk.

    Have a good trip.

    — simdesk Customer Desk

## validity_reminder: $msisdn, $valid_until, $hours

validity_reminder-sms = simdesk: line { $msisdn } expires in about { $hours } { $hours ->
        [one] hour
       *[other] hours
    }, on { $valid_until } (Japan time). After that you can only check the balance and cancel.
validity_reminder-subject = Your line { $msisdn } expires soon
validity_reminder-body =
    Your line { $msisdn } is valid until { $valid_until } (Japan time), about { $hours } { $hours ->
        [one] hour
       *[other] hours
    } from now.

    At that time the line stops working. During the grace period that follows you can still check your balance and cancel the line for a refund of what is left. Topping up does not extend the validity, so please use your balance before then.

    — simdesk Customer Desk

## expired: $msisdn, $grace_until

expired-sms = simdesk: line { $msisdn } has expired. Until { $grace_until } you can check its balance and cancel it for a refund of what is left.
expired-subject = Your line { $msisdn } has expired
expired-body =
    The validity of your line { $msisdn } has ended, so it can no longer be used for calls, texts or data.

    The line is in a grace period until { $grace_until } (Japan time). Until then you can check the remaining balance, and if you cancel the line, what is left is refunded to your simdesk e-wallet.

    When the grace period is over, the line closes for good.

    — simdesk Customer Desk

## cancellation_received: $msisdn

cancellation_received-sms = simdesk: we have received your request to cancel line { $msisdn }. We will let you know the outcome.
cancellation_received-subject = We received your request to cancel { $msisdn }
cancellation_received-body =
    We have received your request to cancel your line { $msisdn }.

    We will review it and confirm whether it is approved and on which date it takes effect. If we need to confirm your identity, we will contact you.

    If you did not make this request, please contact the simdesk hotline or a simdesk store right away.

    — simdesk Customer Desk

## cancellation_approved: $msisdn, $effective_date

cancellation_approved-sms = simdesk: cancellation of line { $msisdn } approved. It takes effect on { $effective_date } (Japan time); the line may be barred until then.
cancellation_approved-subject = Cancellation of your line { $msisdn } approved
cancellation_approved-body =
    Your request to cancel your line { $msisdn } has been approved.

    The cancellation takes effect on { $effective_date } (Japan time). The line may already be barred before then, so please do not count on it for calls, texts or data.

    When the cancellation takes effect, any refund is credited to your simdesk e-wallet and we send you a signed receipt.

    — simdesk Customer Desk

## cancellation_rejected: $msisdn, $reason

cancellation_rejected-sms = simdesk: we could not approve the cancellation of line { $msisdn } (reason: { $reason }). Please contact the simdesk hotline or a store.
cancellation_rejected-subject = Your request to cancel { $msisdn } was not approved
cancellation_rejected-body =
    We are sorry, but we could not approve your request to cancel your line { $msisdn }.

    Reason: { $reason }

    Your line stays as it is. Please contact the simdesk hotline or visit a simdesk store, and we will help you with the next steps.

    — simdesk Customer Desk

## cancellation_withdrawn: $msisdn

cancellation_withdrawn-sms = simdesk: your cancellation of line { $msisdn } was withdrawn. The line stays as it was.
cancellation_withdrawn-subject = Cancellation of your line { $msisdn } withdrawn
cancellation_withdrawn-body =
    Your request to cancel line { $msisdn } has been withdrawn. The line stays as it was before the request, with its balance and validity unchanged.

    If you did not withdraw the request yourself, please contact the simdesk hotline or a simdesk store right away.

    — simdesk Customer Desk

## cancellation_completed: $msisdn, $receipt_number, $refund, $receipt_url

cancellation_completed-sms = simdesk: line { $msisdn } is cancelled. { $refund } refunded to your e-wallet. Receipt { $receipt_number }: { $receipt_url }
cancellation_completed-subject = Your line { $msisdn } is cancelled (receipt { $receipt_number })
cancellation_completed-body =
    Your line { $msisdn } has been cancelled.

    A refund of { $refund } has been credited to your simdesk e-wallet. You can have it paid out from there.

    Receipt number: { $receipt_number }
    Signed receipt: { $receipt_url }

    You can now discard the SIM card, or remove the eSIM from your phone.

    We keep your personal data only for as long as the law requires, and then erase it.

    Thank you for travelling with simdesk.

    — simdesk Customer Desk

## refund_credited: $msisdn, $amount

refund_credited-sms = simdesk: a refund of { $amount } for line { $msisdn } has been credited to your simdesk e-wallet.
refund_credited-subject = A refund of { $amount } is in your e-wallet
refund_credited-body =
    A refund of { $amount } for your line { $msisdn } has been credited to your simdesk e-wallet.

    You can see it in the simdesk portal and have it paid out to your card or bank account.

    — simdesk Customer Desk

## payout_sent: $amount, $reference

payout_sent-sms = simdesk: { $amount } from your e-wallet has been paid out. Transfer reference: { $reference }
payout_sent-subject = Your e-wallet payout of { $amount } is on its way
payout_sent-body =
    We have paid out { $amount } from your simdesk e-wallet.

    Transfer reference: { $reference }

    Depending on your bank or card issuer, it may take a few business days to reach your account. If it has not arrived by then, please contact the simdesk hotline and quote the reference above.

    — simdesk Customer Desk

## one_time_code: $code, $minutes

one_time_code-sms = { $code } is your simdesk code, valid for { $minutes } { $minutes ->
        [one] minute
       *[other] minutes
    }. Do not share it: simdesk staff will never ask for it.
one_time_code-subject = Your simdesk one-time code
one_time_code-body =
    Your simdesk one-time code is:

    { $code }

    It is valid for { $minutes } { $minutes ->
        [one] minute
       *[other] minutes
    }.

    Do not share this code with anyone. simdesk staff will never ask you for it. If you did not request it, you can ignore this message.

    — simdesk Customer Desk

## data_erased: $kept_until

data_erased-sms = simdesk: your personal data has been erased. Identity-check records the law requires are kept until { $kept_until }, then erased.
data_erased-subject = Your personal data has been erased
data_erased-body =
    We have erased the personal data simdesk held about you.

    Japanese law requires us to keep the records of your identity check for a set period. We keep them securely until { $kept_until } and erase them then. They are used for nothing else.

    — simdesk Customer Desk

## data_threshold: $msisdn, $percent, $left_mb

data_threshold-sms = simdesk: line { $msisdn } has used { $percent }% of its data; { $left_mb } MB left. Top up or add a data pack to keep going.
data_threshold-subject = You have used { $percent }% of your data ({ $msisdn })
data_threshold-body =
    Your line { $msisdn } has used { $percent }% of its data allowance. { $left_mb } MB are left.

    When the data runs out, data stops until you top up or add a data pack. Calls and SMS are not affected.

    — simdesk Customer Desk

## data_barred: $msisdn

data_barred-sms = simdesk: line { $msisdn } has no data left. Data is stopped until you top up or add a data pack; calls and SMS still work.
data_barred-subject = Your data has run out ({ $msisdn })
data_barred-body =
    Your line { $msisdn } has used all the data it can pay for.

    Data is stopped until you top up or add a data pack. Calls and SMS still work while the line is valid.

    — simdesk Customer Desk

## data_slowed: $msisdn

data_slowed-sms = simdesk: line { $msisdn } has no data left. Data goes on at low speed until you top up or add a data pack; calls and SMS still work.
data_slowed-subject = Your data has run out ({ $msisdn })
data_slowed-body =
    Your line { $msisdn } has used all the data it can pay for.

    Data goes on at a low speed until you top up or add a data pack. Calls and SMS still work while the line is valid.

    — simdesk Customer Desk

## Replies to SMS keywords

reply-balance = simdesk: line { $msisdn } has a balance of { $balance } and is valid until { $valid_until } (Japan time).
reply-cancel = simdesk: to cancel your line, contact the simdesk hotline or a simdesk store, or do it online: { $portal_url }
reply-help = simdesk: reply BAL for your balance and validity, or CANCEL to find out how to cancel your line.
reply-unknown-line = simdesk: this number is not a line managed by simdesk. Please contact the shop that sold you the SIM.

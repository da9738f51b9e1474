# simdesk cancellation receipts — English (the reference for every other language).
# Headings and labels around the signed values, and the words for the values a receipt
# records as codes (channel, refund rule, where the refund went). The signed document is
# never changed by these: only how it is printed.

receipt-title = Cancellation receipt
receipt-number = Receipt number
receipt-carrier = Carrier
receipt-effective-date = Effective date
receipt-usage-counted-until = Usage counted until
receipt-issued = Issued
receipt-request = Request
receipt-channel = Channel
receipt-customer = Customer
receipt-line = Line
receipt-iccid = ICCID
receipt-msisdn = Phone number
receipt-plan = Plan
receipt-addons-unbound = Add-ons unbound
receipt-none = none
receipt-refund = Refund
receipt-refund-rule = Refund rule
receipt-refund-items = Refund items
receipt-total = Total
receipt-credited-to = Credited to
receipt-policy-version = Policy version
receipt-signature = Signature
receipt-key-id = Key id
## $command: the command that verifies a receipt file
receipt-verify = To verify this receipt, run { $command } with the receipt's JSON file.

## The channel the cancellation came through
receipt-channel-web = Online (self-service)
receipt-channel-hotline = Telephone hotline
receipt-channel-store = Store counter
receipt-channel-api = Operator system (API)
receipt-channel-operator = Operator
receipt-channel-system = Automatic (simdesk)

## The policy's refund rule
receipt-rule-full = Full refund of the remaining value
receipt-rule-pro_rata = Refund in proportion to the remaining validity
receipt-rule-fee_and_minimum = Remaining value minus a cancellation fee (nothing below the minimum)
receipt-rule-none = No refund

## Where the refund went
receipt-credited-e-wallet = Your simdesk e-wallet
receipt-credited-nothing-due = Nothing was due

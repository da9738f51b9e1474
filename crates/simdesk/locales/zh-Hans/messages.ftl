# simdesk 旅客通知 — 简体中文
# 每个事件各有一条短信、一个邮件标题和一封纯文本邮件正文。
# 任何消息中都不得包含旅客的姓名或护照号码。

## registration: $msisdn, $plan

registration-sms = 【simdesk】号码 { $msisdn }（{ $plan }）已登记在您名下，实名登记已完成。
registration-subject = 【simdesk】号码登记完成（{ $msisdn }）
registration-body =
    感谢您选择 simdesk。

    号码 { $msisdn }（{ $plan }）已登记在您名下，日本法律要求的实名登记也已完成。

    号码开通后，我们会通知您开通情况及有效期。

    如果这不是您本人办理的，请联系 simdesk 客服热线或门店。

    — simdesk 客服中心

## activation: $msisdn, $valid_until

activation-sms = 【simdesk】您的号码 { $msisdn } 已开通，有效期至 { $valid_until }（日本时间）。祝您旅途愉快！
activation-subject = 【simdesk】号码已开通（{ $msisdn }）
activation-body =
    您的号码 { $msisdn } 已开通，现在即可使用。

    有效期至 { $valid_until }（日本时间）。到期前我们会提醒您。

    如需查询余额和有效期，可随时回复 simdesk 发来的短信“余额”或“BAL”。

    祝您旅途愉快。

    — simdesk 客服中心

## validity_reminder: $msisdn, $valid_until, $hours

validity_reminder-sms = 【simdesk】您的号码 { $msisdn } 将于 { $valid_until }（日本时间）到期，剩余约 { $hours } 小时。到期后仅可查询余额和注销。
validity_reminder-subject = 【simdesk】号码即将到期（{ $msisdn }）
validity_reminder-body =
    您的号码 { $msisdn } 有效期至 { $valid_until }（日本时间），距今约 { $hours } 小时。

    到期后号码将停止使用。宽限期内仍可查询余额，并可申请注销以退还剩余余额。充值不会延长有效期，请在到期前使用。

    — simdesk 客服中心

## expired: $msisdn, $grace_until

expired-sms = 【simdesk】您的号码 { $msisdn } 已到期。{ $grace_until } 前仍可查询余额，注销号码即可退还剩余金额。
expired-subject = 【simdesk】号码已到期（{ $msisdn }）
expired-body =
    您的号码 { $msisdn } 已到期，无法再使用通话、短信和上网服务。

    该号码处于宽限期，直至 { $grace_until }（日本时间）。在此期间，您可以查询余额；如注销号码，剩余金额将退还至您的 simdesk 电子钱包。

    宽限期结束后，该号码将被关闭。

    — simdesk 客服中心

## cancellation_received: $msisdn

cancellation_received-sms = 【simdesk】我们已收到您注销号码 { $msisdn } 的申请，审核后将通知您结果。
cancellation_received-subject = 【simdesk】已收到注销申请（{ $msisdn }）
cancellation_received-body =
    我们已收到您注销号码 { $msisdn } 的申请。

    审核后，我们会通知您是否批准以及注销的生效日期。如需核实您的身份，我们会与您联系。

    如果这不是您本人提交的申请，请立即联系 simdesk 客服热线或门店。

    — simdesk 客服中心

## cancellation_approved: $msisdn, $effective_date

cancellation_approved-sms = 【simdesk】号码 { $msisdn } 的注销申请已批准，将于 { $effective_date }（日本时间）生效，在此之前号码可能被停用。
cancellation_approved-subject = 【simdesk】注销申请已批准（{ $msisdn }）
cancellation_approved-body =
    您注销号码 { $msisdn } 的申请已获批准。

    注销将于 { $effective_date }（日本时间）生效。在此之前号码可能已被停用，请勿再用该号码通话、发短信或上网。

    注销生效后，如有退款将存入您的 simdesk 电子钱包，我们还会向您发送带电子签名的凭证。

    — simdesk 客服中心

## cancellation_rejected: $msisdn, $reason

cancellation_rejected-sms = 【simdesk】很抱歉，号码 { $msisdn } 的注销申请未获批准（原因：{ $reason }）。请联系客服热线或门店。
cancellation_rejected-subject = 【simdesk】注销申请未获批准（{ $msisdn }）
cancellation_rejected-body =
    很抱歉，您注销号码 { $msisdn } 的申请未获批准。

    原因：{ $reason }

    您的号码状态保持不变。请联系 simdesk 客服热线或前往门店，我们将协助您办理后续手续。

    — simdesk 客服中心

## cancellation_withdrawn: $msisdn

cancellation_withdrawn-sms = simdesk：号码 { $msisdn } 的注销申请已撤回，号码保持原状。
cancellation_withdrawn-subject = 号码 { $msisdn } 的注销申请已撤回
cancellation_withdrawn-body =
    号码 { $msisdn } 的注销申请已撤回。号码的余额和有效期均保持申请前的状态。

    如果这不是您本人的操作，请立即联系 simdesk 客服热线或前往 simdesk 门店。

    — simdesk 客服中心

## cancellation_completed: $msisdn, $receipt_number, $refund, $receipt_url

cancellation_completed-sms = 【simdesk】号码 { $msisdn } 已注销，{ $refund } 已退至您的电子钱包。凭证 { $receipt_number }：{ $receipt_url }
cancellation_completed-subject = 【simdesk】号码注销完成（{ $msisdn }）
cancellation_completed-body =
    您的号码 { $msisdn } 已注销。

    退款 { $refund } 已存入您的 simdesk 电子钱包，您可以从电子钱包申请提现。

    凭证编号：{ $receipt_number }
    带电子签名的凭证：{ $receipt_url }

    您现在可以丢弃 SIM 卡，或从手机中删除 eSIM。

    您的个人信息仅在法律要求的期限内保存，之后将被删除。

    感谢您使用 simdesk。

    — simdesk 客服中心

## refund_credited: $msisdn, $amount

refund_credited-sms = 【simdesk】号码 { $msisdn } 的退款 { $amount } 已存入您的 simdesk 电子钱包。
refund_credited-subject = 【simdesk】退款已到账（{ $amount }）
refund_credited-body =
    号码 { $msisdn } 的退款 { $amount } 已存入您的 simdesk 电子钱包。

    您可以在 simdesk 自助服务网站查看，并申请提现到您的银行卡或银行账户。

    — simdesk 客服中心

## payout_sent: $amount, $reference

payout_sent-sms = 【simdesk】您电子钱包中的 { $amount } 已提现转出。转账参考号：{ $reference }
payout_sent-subject = 【simdesk】提现已转出（{ $amount }）
payout_sent-body =
    您 simdesk 电子钱包中的 { $amount } 已转出。

    转账参考号：{ $reference }

    视银行或发卡机构而定，到账可能需要几个工作日。如届时仍未到账，请联系 simdesk 客服热线并提供上述参考号。

    — simdesk 客服中心

## one_time_code: $code, $minutes

one_time_code-sms = 【simdesk】您的验证码为 { $code }，{ $minutes } 分钟内有效。请勿告诉他人，我们的工作人员绝不会向您索取。
one_time_code-subject = 【simdesk】您的验证码
one_time_code-body =
    您的 simdesk 验证码为：

    { $code }

    该验证码 { $minutes } 分钟内有效。

    请勿将验证码告诉任何人。simdesk 工作人员绝不会向您索取验证码。如果这不是您本人的操作，请忽略本邮件。

    — simdesk 客服中心

## data_erased: $kept_until

data_erased-sms = 【simdesk】您的个人信息已删除。法律要求保存的身份核验记录将保存至 { $kept_until }，之后删除。
data_erased-subject = 【simdesk】您的个人信息已删除
data_erased-body =
    我们已删除 simdesk 保存的您的个人信息。

    根据日本法律，身份核验记录须保存一定期限。我们会妥善保管至 { $kept_until }，之后予以删除，且不会用于任何其他目的。

    — simdesk 客服中心

## data_threshold: $msisdn, $percent, $left_mb

data_threshold-sms = 【simdesk】您的号码 { $msisdn } 已使用 { $percent }% 的数据流量，剩余 { $left_mb } MB。充值或购买流量包即可继续使用。
data_threshold-subject = 【simdesk】数据流量已使用 { $percent }%（{ $msisdn }）
data_threshold-body =
    您的号码 { $msisdn } 已使用 { $percent }% 的数据流量，剩余 { $left_mb } MB。

    流量用完后，在充值或购买流量包之前将无法使用数据。通话和短信不受影响。

    — simdesk 客服中心

## data_barred: $msisdn

data_barred-sms = 【simdesk】您的号码 { $msisdn } 数据流量已用完。在充值或购买流量包之前，数据将暂停；通话和短信仍可使用。
data_barred-subject = 【simdesk】数据流量已用完（{ $msisdn }）
data_barred-body =
    您的号码 { $msisdn } 已用完可支付的全部数据流量。

    在充值或购买流量包之前，数据将暂停。 有效期内通话和短信仍可使用。

    — simdesk 客服中心

## data_slowed: $msisdn

data_slowed-sms = 【simdesk】您的号码 { $msisdn } 数据流量已用完。在充值或购买流量包之前，数据将降为低速；通话和短信仍可使用。
data_slowed-subject = 【simdesk】数据流量已用完（{ $msisdn }）
data_slowed-body =
    您的号码 { $msisdn } 已用完可支付的全部数据流量。

    在充值或购买流量包之前，数据将降为低速。 有效期内通话和短信仍可使用。

    — simdesk 客服中心

## 短信关键词回复

reply-balance = 【simdesk】号码 { $msisdn } 余额 { $balance }，有效期至 { $valid_until }（日本时间）。
reply-cancel = 【simdesk】如需注销号码，请联系客服热线或前往门店，也可在线办理：{ $portal_url }
reply-help = 【simdesk】查询余额和有效期请回复“余额”或“BAL”，了解注销方法请回复“注销”或“CANCEL”。
reply-unknown-line = 【simdesk】该号码不是 simdesk 管理的号码。请联系向您出售 SIM 卡的商家。

# simdesk 여행자 안내 메시지 — 한국어
# 이벤트마다 문자 한 건, 메일 제목 하나, 텍스트 메일 본문 하나를 둡니다.
# 어떤 메시지에도 여행자의 이름이나 여권 번호를 넣지 않습니다.
# 자리 표시자 바로 뒤에는 받침에 따라 바뀌는 조사(은/는, 이/가, 을/를)를 쓰지 않습니다.

## registration: $msisdn, $plan

registration-sms = [simdesk] 회선 { $msisdn }({ $plan }) 등록 및 실명 확인이 완료되었습니다.
registration-subject = [simdesk] 회선 등록 완료 안내({ $msisdn })
registration-body =
    simdesk를 선택해 주셔서 감사합니다.

    고객님 명의로 회선 { $msisdn }({ $plan }) 등록을 완료했습니다. 일본 법률에 따른 실명 확인도 완료되었습니다.

    회선이 개통되면 이용 가능 기간과 함께 다시 안내해 드리겠습니다.

    본인이 신청하지 않으셨다면 simdesk 상담 전화 또는 매장으로 연락해 주십시오.

    — simdesk 고객센터

## activation: $msisdn, $valid_until

activation-sms = [simdesk] 회선 { $msisdn }의 개통이 완료되었습니다. 유효기간: { $valid_until }(일본 시간)까지
activation-subject = [simdesk] 회선 개통 안내({ $msisdn })
activation-body =
    회선 { $msisdn }의 개통이 완료되어 지금부터 이용하실 수 있습니다.

    유효기간은 { $valid_until }(일본 시간)까지입니다. 만료가 가까워지면 다시 알려 드리겠습니다.

    잔액과 유효기간은 simdesk에서 보낸 문자에 "잔액" 또는 "BAL"이라고 답장하시면 언제든지 확인하실 수 있습니다.

    즐거운 여행 되십시오.

    — simdesk 고객센터

## validity_reminder: $msisdn, $valid_until, $hours

validity_reminder-sms = [simdesk] 회선 { $msisdn }의 유효기간은 { $valid_until }(일본 시간)까지이며, 약 { $hours }시간 남았습니다. 만료 후에는 잔액 조회와 해지만 가능합니다.
validity_reminder-subject = [simdesk] 유효기간 만료 예정 안내({ $msisdn })
validity_reminder-body =
    회선 { $msisdn }의 유효기간은 { $valid_until }(일본 시간)까지이며, 약 { $hours }시간 남았습니다.

    만료 시점에 회선 이용이 중지됩니다. 유예 기간에는 잔액을 조회하고 해지하여 남은 잔액을 환불받으실 수 있습니다. 충전으로 유효기간이 연장되지는 않으므로 만료 전에 이용해 주십시오.

    — simdesk 고객센터

## expired: $msisdn, $grace_until

expired-sms = [simdesk] 회선 { $msisdn }의 유효기간이 만료되었습니다. { $grace_until }까지 잔액 확인 및 해지(잔액 환불)가 가능합니다.
expired-subject = [simdesk] 유효기간 만료 안내({ $msisdn })
expired-body =
    회선 { $msisdn }의 유효기간이 만료되어 통화, 문자, 데이터를 더 이상 이용하실 수 없습니다.

    { $grace_until }(일본 시간)까지는 유예 기간입니다. 이 기간에는 잔액을 확인하실 수 있으며, 회선을 해지하시면 남은 금액이 simdesk 전자지갑으로 환불됩니다.

    유예 기간이 지나면 회선은 종료됩니다.

    — simdesk 고객센터

## cancellation_received: $msisdn

cancellation_received-sms = [simdesk] 회선 { $msisdn }의 해지 신청이 접수되었습니다. 검토 후 결과를 안내해 드리겠습니다.
cancellation_received-subject = [simdesk] 해지 신청 접수 안내({ $msisdn })
cancellation_received-body =
    회선 { $msisdn }의 해지 신청이 접수되었습니다.

    검토 후 승인 여부와 해지 적용일을 안내해 드리겠습니다. 본인 확인이 필요한 경우 별도로 연락드리겠습니다.

    본인이 신청하지 않으셨다면 즉시 simdesk 상담 전화 또는 매장으로 연락해 주십시오.

    — simdesk 고객센터

## cancellation_approved: $msisdn, $effective_date

cancellation_approved-sms = [simdesk] 회선 { $msisdn }의 해지가 승인되었습니다. { $effective_date }(일본 시간)에 적용되며, 그 전에 이용이 정지될 수 있습니다.
cancellation_approved-subject = [simdesk] 해지 승인 안내({ $msisdn })
cancellation_approved-body =
    회선 { $msisdn }의 해지 신청이 승인되었습니다.

    해지는 { $effective_date }(일본 시간)에 적용됩니다. 그 전이라도 회선 이용이 정지될 수 있으니, 통화, 문자, 데이터 이용에는 이 회선을 더 이상 사용하지 않으시기 바랍니다.

    해지가 적용되면 환불액이 있는 경우 simdesk 전자지갑으로 입금되며, 전자 서명된 영수증을 보내 드립니다.

    — simdesk 고객센터

## cancellation_rejected: $msisdn, $reason

cancellation_rejected-sms = [simdesk] 회선 { $msisdn }의 해지 신청이 승인되지 않았습니다(사유: { $reason }). 상담 전화나 매장으로 문의해 주십시오.
cancellation_rejected-subject = [simdesk] 해지 신청 결과 안내({ $msisdn })
cancellation_rejected-body =
    죄송합니다. 회선 { $msisdn }의 해지 신청을 승인할 수 없었습니다.

    사유: { $reason }

    회선은 기존 상태 그대로 유지됩니다. 이후 절차는 simdesk 상담 전화 또는 매장으로 문의해 주시면 안내해 드리겠습니다.

    — simdesk 고객센터

## cancellation_withdrawn: $msisdn

cancellation_withdrawn-sms = [simdesk] 회선 { $msisdn } 해지 신청이 철회되었습니다. 회선은 그대로 유지됩니다.
cancellation_withdrawn-subject = [simdesk] 회선 { $msisdn } 해지 신청 철회 안내
cancellation_withdrawn-body =
    회선 { $msisdn } 해지 신청이 철회되었습니다. 회선의 잔액과 유효 기간은 신청 전 상태 그대로입니다.

    본인이 철회하지 않으셨다면 즉시 simdesk 고객센터 또는 매장으로 연락해 주십시오.

    — simdesk 고객센터

## cancellation_completed: $msisdn, $receipt_number, $refund, $receipt_url

cancellation_completed-sms = [simdesk] 회선 { $msisdn }의 해지가 완료되어 전자지갑으로 { $refund } 환불되었습니다. 영수증 { $receipt_number }: { $receipt_url }
cancellation_completed-subject = [simdesk] 해지 완료 안내({ $msisdn })
cancellation_completed-body =
    회선 { $msisdn }의 해지가 완료되었습니다.

    simdesk 전자지갑으로 { $refund } 환불되었습니다. 전자지갑에서 출금을 신청하실 수 있습니다.

    영수증 번호: { $receipt_number }
    전자 서명된 영수증: { $receipt_url }

    이제 SIM 카드는 폐기하셔도 되며, eSIM은 휴대전화에서 삭제하셔도 됩니다.

    고객님의 개인정보는 법령에서 정한 기간 동안만 보관한 후 파기합니다.

    simdesk를 이용해 주셔서 감사합니다.

    — simdesk 고객센터

## refund_credited: $msisdn, $amount

refund_credited-sms = [simdesk] simdesk 전자지갑으로 회선 { $msisdn }의 환불금 { $amount } 입금이 완료되었습니다.
refund_credited-subject = [simdesk] 환불금 입금 안내({ $amount })
refund_credited-body =
    simdesk 전자지갑으로 회선 { $msisdn }의 환불금 { $amount } 입금이 완료되었습니다.

    simdesk 포털에서 내역을 확인하실 수 있으며, 카드 또는 은행 계좌로 출금을 신청하실 수 있습니다.

    — simdesk 고객센터

## payout_sent: $amount, $reference

payout_sent-sms = [simdesk] 전자지갑에서 { $amount } 송금이 완료되었습니다. 송금 참조번호: { $reference }
payout_sent-subject = [simdesk] 출금 송금 완료 안내({ $amount })
payout_sent-body =
    simdesk 전자지갑에서 { $amount } 송금이 완료되었습니다.

    송금 참조번호: { $reference }

    은행이나 카드사에 따라 입금까지 영업일 기준 며칠이 걸릴 수 있습니다. 그 이후에도 입금되지 않았다면 위 참조번호와 함께 simdesk 상담 전화로 문의해 주십시오.

    — simdesk 고객센터

## one_time_code: $code, $minutes

one_time_code-sms = [simdesk] 인증번호 { $code }({ $minutes }분간 유효). 타인에게 알려 주지 마십시오. 당사 직원은 인증번호를 묻지 않습니다.
one_time_code-subject = [simdesk] 인증번호 안내
one_time_code-body =
    simdesk 인증번호는 다음과 같습니다.

    { $code }

    이 인증번호는 { $minutes }분 동안 유효합니다.

    인증번호를 누구에게도 알려 주지 마십시오. simdesk 직원은 절대 인증번호를 요청하지 않습니다. 본인이 요청하지 않으셨다면 이 메일은 무시하셔도 됩니다.

    — simdesk 고객센터

## data_erased: $kept_until

data_erased-sms = [simdesk] 개인정보를 파기했습니다. 법령상 보관 의무가 있는 본인 확인 기록은 { $kept_until }까지 보관 후 파기합니다.
data_erased-subject = [simdesk] 개인정보 파기 안내
data_erased-body =
    simdesk가 보유하고 있던 고객님의 개인정보를 파기했습니다.

    다만 일본 법률에 따라 보관 의무가 있는 본인 확인 기록은 { $kept_until }까지 안전하게 보관한 후 파기합니다. 이 기록은 다른 목적으로 사용하지 않습니다.

    — simdesk 고객센터

## data_threshold: $msisdn, $percent, $left_mb

data_threshold-sms = [simdesk] 회선 { $msisdn }의 데이터를 { $percent }% 사용했습니다. 남은 데이터는 { $left_mb } MB입니다. 충전하거나 데이터 팩을 추가하면 계속 이용하실 수 있습니다.
data_threshold-subject = [simdesk] 데이터 { $percent }% 사용 안내({ $msisdn })
data_threshold-body =
    회선 { $msisdn }의 데이터 제공량 중 { $percent }%를 사용했습니다. 남은 데이터는 { $left_mb } MB입니다.

    데이터를 모두 사용하면 충전하거나 데이터 팩을 추가할 때까지 데이터 통신이 중지됩니다. 통화와 SMS는 영향을 받지 않습니다.

    — simdesk 고객센터

## data_barred: $msisdn

data_barred-sms = [simdesk] 회선 { $msisdn }의 데이터를 모두 사용했습니다. 충전하거나 데이터 팩을 추가할 때까지 데이터 통신이 중지됩니다. 통화와 SMS는 계속 이용하실 수 있습니다.
data_barred-subject = [simdesk] 데이터 소진 안내({ $msisdn })
data_barred-body =
    회선 { $msisdn }에서 결제 가능한 데이터를 모두 사용했습니다.

    충전하거나 데이터 팩을 추가할 때까지 데이터 통신이 중지됩니다. 유효기간 동안 통화와 SMS는 계속 이용하실 수 있습니다.

    — simdesk 고객센터

## data_slowed: $msisdn

data_slowed-sms = [simdesk] 회선 { $msisdn }의 데이터를 모두 사용했습니다. 충전하거나 데이터 팩을 추가할 때까지 데이터 속도가 느려집니다. 통화와 SMS는 계속 이용하실 수 있습니다.
data_slowed-subject = [simdesk] 데이터 소진 안내({ $msisdn })
data_slowed-body =
    회선 { $msisdn }에서 결제 가능한 데이터를 모두 사용했습니다.

    충전하거나 데이터 팩을 추가할 때까지 데이터 속도가 느려집니다. 유효기간 동안 통화와 SMS는 계속 이용하실 수 있습니다.

    — simdesk 고객센터

## 문자 키워드 답장

reply-balance = [simdesk] 회선 { $msisdn } 잔액 { $balance }, 유효기간 { $valid_until }(일본 시간)까지입니다.
reply-cancel = [simdesk] 해지는 상담 전화, 매장 또는 온라인에서 신청하실 수 있습니다: { $portal_url }
reply-help = [simdesk] 잔액 확인은 "잔액" 또는 "BAL", 해지 안내는 "해지" 또는 "CANCEL"이라고 답장해 주십시오.
reply-unknown-line = [simdesk] 이 번호는 simdesk에서 관리하는 회선이 아닙니다. SIM을 구입하신 판매처에 문의해 주십시오.

# simdesk 注销凭证 — 简体中文

receipt-title = 注销凭证
receipt-number = 凭证编号
receipt-carrier = 运营商
receipt-effective-date = 生效日期
receipt-usage-counted-until = 用量统计截至
receipt-issued = 签发时间
receipt-request = 申请编号
receipt-channel = 受理渠道
receipt-customer = 客户编号
receipt-line = 线路
receipt-iccid = ICCID
receipt-msisdn = 电话号码
receipt-plan = 套餐
receipt-addons-unbound = 已解除的附加服务
receipt-none = 无
receipt-refund = 退款
receipt-refund-rule = 退款规则
receipt-refund-items = 退款明细
receipt-total = 合计
receipt-credited-to = 退款至
receipt-policy-version = 政策版本
receipt-signature = 数字签名
receipt-key-id = 密钥 ID
receipt-verify = 对本凭证的 JSON 文件运行 { $command } 即可验证。

receipt-channel-web = 网页（自助服务）
receipt-channel-hotline = 客服热线
receipt-channel-store = 门店柜台
receipt-channel-api = 运营商系统（API）
receipt-channel-operator = 运营商工作人员
receipt-channel-system = 自动处理（simdesk）

receipt-rule-full = 全额退还剩余金额
receipt-rule-pro_rata = 按剩余有效期比例退款
receipt-rule-fee_and_minimum = 剩余金额扣除注销手续费后退款（低于最低金额不予退款）
receipt-rule-none = 不退款

receipt-credited-e-wallet = 您的 simdesk 电子钱包
receipt-credited-nothing-due = 无应退款项

// Azure Communication Services Email: an Email Communication Service with an Azure-managed domain (always,
// it works without DNS changes) and optionally a custom domain, and the Communication Services resource the
// app calls (ACS_ENDPOINT). Created unless an existing Communication Services resource is given
// (existingCommunicationServiceId in main.bicep). The app authenticates with the managed identity, whose send
// permission app/email-sender-access.bicep grants (on this resource or the existing one).
//
// Sender addresses: every domain comes with the MailFrom address DoNotReply@<domain>. Sender usernames cannot
// be enabled on Azure-managed domains, nor on custom domains that still have the default sending limits
// (Microsoft Learn, "Quickstart: How to add and remove multiple sender addresses to Email Communication
// Service", learn.microsoft.com/azure/communication-services/quickstarts/email/add-multiple-senders). So the
// Azure-managed domain always sends as DoNotReply, and a senderUsernames resource is created only for another
// username on a verified custom domain (whose sending limits must have been raised: an assumption this
// template cannot check; Azure refuses the username otherwise).

param communicationServiceName string
param emailServiceName string
param tags object = {}

@description('Where ACS stores data at rest (an ACS geography such as Europe or United States, not a region).')
param dataLocation string

@description('Custom sender domain (for example alerts.contoso.com), or empty for the Azure-managed domain only.')
param customEmailDomain string = ''

@description('Set to true once the custom domain\'s DNS records are verified; until then mail goes out from the Azure-managed domain.')
param customEmailDomainVerified bool = false

@description('Local part of the sender address on a verified custom domain; the Azure-managed domain always sends as DoNotReply.')
param senderUsername string = 'DoNotReply'

@description('Display name of a custom sender username (DoNotReply keeps the display name Azure gave it).')
param senderDisplayName string = 'Azure ML alerts'

var useCustomDomain = !empty(customEmailDomain) && customEmailDomainVerified
// The username every domain has from the start (no senderUsernames resource needed, or allowed on an
// Azure-managed domain).
var defaultSenderUsername = 'DoNotReply'
var customSenderUsername = useCustomDomain && toLower(senderUsername) != toLower(defaultSenderUsername)

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

resource azureManagedDomain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource customDomain 'Microsoft.Communication/emailServices/domains@2023-04-01' = if (!empty(customEmailDomain)) {
  parent: emailService
  name: empty(customEmailDomain) ? 'unused' : customEmailDomain
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'CustomerManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource customSender 'Microsoft.Communication/emailServices/domains/senderUsernames@2023-04-01' = if (customSenderUsername) {
  parent: customDomain
  name: toLower(senderUsername)
  properties: {
    username: senderUsername
    displayName: senderDisplayName
  }
}

resource communicationService 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: communicationServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    // A domain can be linked only once it is verified; the Azure-managed one always is.
    linkedDomains: useCustomDomain ? [azureManagedDomain.id, customDomain.id] : [azureManagedDomain.id]
  }
  dependsOn: [
    customSender
  ]
}

var senderUsernameInUse = customSenderUsername ? senderUsername : defaultSenderUsername
var senderDomain = useCustomDomain ? customEmailDomain : azureManagedDomain.properties.mailFromSenderDomain

output name string = communicationService.name
output senderAddress string = '${senderUsernameInUse}@${senderDomain}'
output customDomainVerificationRecords object = !empty(customEmailDomain) ? customDomain.properties.verificationRecords : {}

// User-assigned managed identity of the Function App. Every data-plane permission the app and the
// Functions host need is granted to this one identity (see the role assignments in the other modules);
// the app finds it through AZURE_CLIENT_ID, the host through AzureWebJobsStorage__clientId.

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
